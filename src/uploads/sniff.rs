//! What a file is, decided by its first bytes; and what a client claims it is must agree.

use serde::Deserialize;

/// What a stored file is to a model, as `files.file_type` says it: an image it looks at, or a
/// PDF whose extracted text it reads (kept beside the upload in R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Image,
    Pdf,
}

impl FileKind {
    /// `image` or `pdf`, as the Stone seed names them.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Pdf => "pdf",
        }
    }
}

/// The format, from the magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
}

impl Kind {
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
            Kind::Pdf => "application/pdf",
        }
    }

    pub fn file_kind(self) -> FileKind {
        if self == Kind::Pdf {
            FileKind::Pdf
        } else {
            FileKind::Image
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            Kind::Png => &["png"],
            Kind::Jpeg => &["jpg", "jpeg", "jpe", "jfif"],
            Kind::Gif => &["gif"],
            Kind::Webp => &["webp"],
            Kind::Pdf => &["pdf"],
        }
    }

    pub fn extension(self) -> &'static str {
        self.extensions().first().copied().unwrap_or("bin")
    }
}

const ALL: [Kind; 5] = [Kind::Png, Kind::Jpeg, Kind::Gif, Kind::Webp, Kind::Pdf];

/// The kind the magic bytes say, if it is one the gateway takes.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Kind::Gif)
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some(Kind::Webp)
    } else if bytes
        .get(..1024)
        .unwrap_or(bytes)
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        // PDF readers accept the header anywhere in the first kilobyte.
        Some(Kind::Pdf)
    } else {
        None
    }
}

/// Why a file is refused (415), or `Ok` when its content, declared type and extension agree.
pub fn check(bytes: &[u8], declared: Option<&str>, file_name: &str) -> Result<Kind, String> {
    let kind = sniff(bytes).ok_or_else(|| {
        "Only PNG, JPEG, GIF, WebP images and PDF documents can be uploaded; this file is none of them."
            .to_owned()
    })?;
    let declared = declared.map(|d| {
        d.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    if let Some(declared) = declared.filter(|d| !d.is_empty() && d != "application/octet-stream") {
        let agrees = declared == kind.mime() || (kind == Kind::Jpeg && declared == "image/jpg");
        if !agrees {
            return Err(format!(
                "The file is declared as {declared} but its content is {}.",
                kind.mime()
            ));
        }
    }
    if let Some((_, extension)) = file_name.rsplit_once('.') {
        let extension = extension.to_ascii_lowercase();
        let claimed = ALL.iter().find(|k| k.extensions().contains(&extension.as_str()));
        if let Some(claimed) = claimed.filter(|c| **c != kind) {
            return Err(format!(
                "The file is named .{extension} ({}) but its content is {}.",
                claimed.mime(),
                kind.mime()
            ));
        }
    }
    Ok(kind)
}

/// A file name safe to store and show: its last path component, without control characters,
/// at most 255 bytes; a default when nothing is left.
pub fn sanitize_file_name(raw: &str, kind: Kind) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '|' | '*' | '?' | ':'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut name = String::new();
    for c in cleaned.chars() {
        if name.len() + c.len_utf8() > 255 {
            break;
        }
        name.push(c);
    }
    if name.is_empty() {
        format!("upload.{}", kind.extension())
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_kind_reads_as_it_is_written() {
        for kind in ALL {
            let file_kind = kind.file_kind();
            let read: FileKind = serde_json::from_value(serde_json::json!(file_kind.as_str())).unwrap();
            assert_eq!(read, file_kind);
            assert_eq!(file_kind == FileKind::Pdf, kind == Kind::Pdf);
        }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";

    #[test]
    fn magic_bytes_decide_the_kind() {
        assert_eq!(sniff(PNG), Some(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a...."), Some(Kind::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(sniff(PDF), Some(Kind::Pdf));
        assert_eq!(sniff(b"PK\x03\x04zip"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVE"), None);
    }

    #[test]
    fn a_png_named_pdf_and_a_pdf_declared_as_png_are_refused() {
        assert!(check(PNG, Some("image/png"), "cat.pdf")
            .unwrap_err()
            .contains(".pdf"));
        assert!(check(PDF, Some("image/png"), "doc.pdf")
            .unwrap_err()
            .contains("declared as image/png"));
        assert_eq!(check(PDF, Some("application/pdf"), "doc.PDF"), Ok(Kind::Pdf));
        assert_eq!(check(PNG, Some("application/octet-stream"), "cat"), Ok(Kind::Png));
        assert_eq!(check(PNG, None, "notes.txt.png"), Ok(Kind::Png));
        assert!(check(b"hello", Some("text/plain"), "a.txt").is_err());
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(sanitize_file_name("../../etc/passwd", Kind::Pdf), "passwd");
        assert_eq!(
            sanitize_file_name("C:\\Users\\me\\отчёт.pdf", Kind::Pdf),
            "отчёт.pdf"
        );
        assert_eq!(sanitize_file_name("a\u{0}b\r\n.png", Kind::Png), "ab.png");
        assert_eq!(sanitize_file_name("...", Kind::Png), "upload.png");
        assert!(sanitize_file_name(&"я".repeat(300), Kind::Pdf).len() <= 255);
    }
}
