//! A `multipart/form-data` reader for one buffered body (already capped by the caller): finds
//! the part named `file` with its file name and declared type. Pure and panic-free.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart<'a> {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    NotMultipart,
    NoBoundary,
    Malformed(&'static str),
}

impl MultipartError {
    pub fn describe(&self) -> String {
        match self {
            MultipartError::NotMultipart => {
                "Send the file as multipart/form-data (curl -F \"file=@path\").".into()
            }
            MultipartError::NoBoundary => "The multipart Content-Type has no boundary.".into(),
            MultipartError::Malformed(what) => format!("The multipart body is malformed: {what}."),
        }
    }
}

/// The boundary of a `multipart/form-data; boundary=…` content type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut parts = content_type.split(';');
    let kind = parts.next().unwrap_or_default().trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::NotMultipart);
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or(MultipartError::NoBoundary)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A header parameter such as `filename="a.pdf"` (quoted or bare; `filename*=UTF-8''…` too).
fn parameter(header: &str, key: &str) -> Option<String> {
    for piece in header.split(';').skip(1) {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.eq_ignore_ascii_case(&format!("{key}*")) {
            let encoded = v.trim().splitn(3, '\'').nth(2).unwrap_or_default();
            return Some(percent_decode(encoded));
        }
        if k.eq_ignore_ascii_case(key) {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            return Some(v.replace("\\\"", "\""));
        }
    }
    None
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(decoded) = hex {
                out.push(decoded);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every part of the body, in order.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<FilePart<'a>>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let mut position =
        find(body, delimiter.as_bytes(), 0).ok_or(MultipartError::Malformed("no opening boundary"))?;
    let mut found = Vec::new();
    loop {
        let after = position + delimiter.len();
        if body.get(after..after + 2) == Some(b"--") {
            return Ok(found);
        }
        let headers_start =
            find(body, b"\r\n", after).ok_or(MultipartError::Malformed("a boundary line does not end"))? + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)
            .ok_or(MultipartError::Malformed("a part has no header end"))?;
        let data_start = headers_end + 4;
        let closing = format!("\r\n{delimiter}");
        let data_end = find(body, closing.as_bytes(), data_start)
            .ok_or(MultipartError::Malformed("a part does not end"))?;
        let headers = String::from_utf8_lossy(body.get(headers_start..headers_end).unwrap_or_default());
        let mut name = None;
        let mut file_name = None;
        let mut content_type = None;
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                name = parameter(value, "name");
                file_name = parameter(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_ascii_lowercase());
            }
        }
        found.push(FilePart {
            name: name.unwrap_or_default(),
            file_name,
            content_type,
            data: body.get(data_start..data_end).unwrap_or_default(),
        });
        position = data_end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (field name, file name, content type, data)
    type Spec<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

    fn body(parts: &[Spec<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file, kind, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            let file = file.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n").as_bytes(),
            );
            if let Some(kind) = kind {
                out.extend_from_slice(format!("Content-Type: {kind}\r\n").as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn reads_the_boundary_quoted_or_bare() {
        assert_eq!(boundary("multipart/form-data; boundary=XyZ"), Ok("XyZ".into()));
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\""),
            Ok("a b".into())
        );
        assert_eq!(boundary("application/json"), Err(MultipartError::NotMultipart));
        assert_eq!(boundary("multipart/form-data"), Err(MultipartError::NoBoundary));
    }

    #[test]
    fn finds_each_part_with_its_name_file_name_and_type() {
        let data: &[u8] = b"\x89PNG\r\n\x1a\n--XyZ not a boundary\r\n";
        let raw = body(&[
            ("note", None, None, b"hello"),
            ("file", Some("cat.png"), Some("image/PNG"), data),
        ]);
        let found = parts(&raw, "XyZ").unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].name.as_str(), found[0].data), ("note", &b"hello"[..]));
        assert_eq!(found[1].file_name.as_deref(), Some("cat.png"));
        assert_eq!(found[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(found[1].data, data);
    }

    #[test]
    fn utf8_and_encoded_file_names_survive() {
        assert_eq!(
            parameter("form-data; name=\"file\"; filename=\"отчёт.pdf\"", "filename").as_deref(),
            Some("отчёт.pdf")
        );
        assert_eq!(
            parameter("form-data; filename*=UTF-8''%D0%BE%D1%82.pdf", "filename").as_deref(),
            Some("от.pdf")
        );
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for raw in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nContent-Disposition: form-data\r\n",
            b"--XyZ\r\n\r\n\r\nno end",
            b"junk",
        ] {
            assert!(parts(raw, "XyZ").is_err(), "{raw:?}");
        }
    }
}
