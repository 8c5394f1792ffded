//! Which field of a JSON body a typed parse refused, read back from serde_json's error position.
//!
//! serde_json stamps a data error with where the innermost `deserialize_*` call stood: just past
//! the offending scalar, at the opening bracket of a container of the wrong type, past a struct's
//! closing brace for a missing field, past a key for an unknown one. Scanning the text up to that
//! point gives the field's path. This replaces a path-tracking deserializer wrapper, which
//! doubled the generated code of every request type (about a tenth of the worker).

use serde::de::{self, DeserializeOwned};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One step into a JSON value: an object's key or an array's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// The path of a value in a JSON text, outermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

impl Path {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `messages[0].content[1].text`, as OpenAI names a parameter.
    pub fn bracketed(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// `messages.0.content.1.text`, as Anthropic names one.
    pub fn dotted(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|segment| match segment {
                Segment::Key(key) => key.clone(),
                Segment::Index(index) => index.to_string(),
            })
            .collect();
        parts.join(".")
    }
}

/// A body that did not parse as `T`.
pub enum Refusal {
    /// Nothing but whitespace.
    Empty,
    /// JSON, but not an object (serde would take an array as a struct's fields in order).
    NotAnObject,
    /// Not JSON at all (or truncated): serde_json's own words.
    Syntax(serde_json::Error),
    /// JSON, but not a `T`: where, and serde's reason without its " at line … column …".
    Data { path: Path, reason: String },
}

impl Path {
    /// The member a refusal names: serde locates a missing field at the object that lacks it, so
    /// `reason`'s field (`missing field `model``) is appended.
    pub fn of_param(mut self, reason: &str) -> Path {
        if let Some(field) = missing_field(reason) {
            self.0.push(Segment::Key(field.to_owned()));
        }
        self
    }
}

/// The field of serde's "missing field `name`".
pub fn missing_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("missing field `")?.split('`').next()
}

/// Parses `bytes` as exactly one JSON object read as `T` (trailing characters refused),
/// locating a data error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    parse_borrowed(bytes)
}

/// `parse` for types that borrow from the body.
pub fn parse_borrowed<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Refusal> {
    check_object(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut deserializer).map_err(|e| refusal(bytes, e))?;
    deserializer.end().map_err(Refusal::Syntax)?;
    Ok(value)
}

// Not generic, and kept out of line: the generic parsers above are compiled once per type.
#[inline(never)]
fn check_object(bytes: &[u8]) -> Result<(), Refusal> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(Refusal::Empty),
        Some(b'{') => Ok(()),
        Some(_) => Err(match serde_json::from_slice::<de::IgnoredAny>(bytes) {
            Err(e) => Refusal::Syntax(e),
            Ok(_) => Refusal::NotAnObject,
        }),
    }
}

#[inline(never)]
fn refusal(bytes: &[u8], error: serde_json::Error) -> Refusal {
    match error.classify() {
        serde_json::error::Category::Data => {
            let text = error.to_string();
            let reason = text.split(" at line ").next().unwrap_or(&text).to_owned();
            Refusal::Data {
                path: path_at(bytes, offset_of(bytes, error.line(), error.column())),
                reason,
            }
        }
        _ => Refusal::Syntax(error),
    }
}

/// Deserializes an object whose `type` decides what it is: its fields are buffered, then `decide`
/// picks the variant. Deciding inside the map visitor matters: serde_json stamps the refusal
/// at this object, so the path names it (`input[3]`), not the list around it.
pub fn tagged_object<'de, D, T>(
    deserializer: D,
    decide: fn(Map<String, Value>) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Fields<T>(fn(Map<String, Value>) -> Result<T, String>);
    impl<'de, T> de::Visitor<'de> for Fields<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, access: A) -> Result<T, A::Error> {
            let fields = Map::deserialize(de::value::MapAccessDeserializer::new(access))?;
            (self.0)(fields).map_err(de::Error::custom)
        }
    }
    deserializer.deserialize_map(Fields(decide))
}

/// One variant of a `tagged_object`, from its buffered fields. A refusal inside it keeps its
/// path in the message (`content[0].text: invalid type…`); the outer path names the object.
pub fn variant<T: DeserializeOwned>(fields: Map<String, Value>) -> Result<T, String> {
    // Through the text rather than the Value: one deserializer per type in the worker, and a
    // position to locate the refusal by.
    let text = Value::Object(fields).to_string();
    parse(text.as_bytes()).map_err(|refusal| match refusal {
        Refusal::Data { path, reason } if path.is_empty() => reason,
        Refusal::Data { path, reason } => format!("{}: {reason}", path.bracketed()),
        // An object written out by serde_json is JSON and an object.
        Refusal::Syntax(e) => e.to_string(),
        Refusal::Empty | Refusal::NotAnObject => "expected a JSON object".to_owned(),
    })
}

/// `T` from its members read flat into `F` and checked by `T::try_from`, inside the object's own
/// reading so that a refusal (`missing field `text``) is located at the object, not around it:
/// serde decides its own tagged enums after reading the whole object, outside serde_json's call,
/// and buffers the object to read it twice. This is how the `type`- or `role`-tagged enums here
/// are read.
pub fn checked<'de, D, F, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    F: Deserialize<'de>,
    T: TryFrom<F>,
    T::Error: std::fmt::Display,
{
    struct Checked<F, T>(std::marker::PhantomData<(F, T)>);
    impl<'de, F, T> de::Visitor<'de> for Checked<F, T>
    where
        F: Deserialize<'de>,
        T: TryFrom<F>,
        T::Error: std::fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, access: A) -> Result<T, A::Error> {
            let fields = F::deserialize(de::value::MapAccessDeserializer::new(access))?;
            T::try_from(fields).map_err(de::Error::custom)
        }
    }
    deserializer.deserialize_map(Checked(std::marker::PhantomData))
}

/// The byte offset of serde_json's (1-based line, 0-based column of the bytes before it).
fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(at, _)| at + 1)
    };
    (line_start + column).min(bytes.len())
}

enum Frame {
    /// The key whose value is being read, once its colon has been seen.
    Object { key: Option<String>, in_value: bool },
    /// The index of the element being read, once it has begun.
    Array { index: usize, started: bool },
}

/// The path of the value being read after `bytes[..end]` have been consumed.
pub fn path_at(bytes: &[u8], end: usize) -> Path {
    let text = &bytes[..end.min(bytes.len())];
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    let begin_value = |stack: &mut Vec<Frame>| {
        if let Some(Frame::Array { started, .. }) = stack.last_mut() {
            *started = true;
        }
    };
    while i < text.len() {
        match text[i] {
            b'{' => {
                begin_value(&mut stack);
                stack.push(Frame::Object {
                    key: None,
                    in_value: false,
                });
            }
            b'[' => {
                begin_value(&mut stack);
                stack.push(Frame::Array {
                    index: 0,
                    started: false,
                });
            }
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, in_value }) => {
                    *key = None;
                    *in_value = false;
                }
                Some(Frame::Array { index, started }) => {
                    *index += 1;
                    *started = false;
                }
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { in_value, .. }) = stack.last_mut() {
                    *in_value = true;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                let closed = i < text.len();
                match stack.last_mut() {
                    Some(Frame::Object { key, in_value: false }) if closed => {
                        *key = serde_json::from_slice(&text[start..=i]).ok();
                    }
                    _ => begin_value(&mut stack),
                }
            }
            b if b.is_ascii_whitespace() => {}
            _ => begin_value(&mut stack),
        }
        i += 1;
    }
    Path(
        stack
            .into_iter()
            .filter_map(|frame| match frame {
                Frame::Object {
                    key: Some(key),
                    in_value: true,
                } => Some(Segment::Key(key)),
                Frame::Array { index, started: true } => Some(Segment::Index(index)),
                _ => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        model: String,
        #[serde(default)]
        max_tokens: Option<u32>,
        #[serde(default)]
        messages: Vec<Message>,
        #[serde(default)]
        meta: Option<Meta>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Message {
        role: Role,
        content: String,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Role {
        User,
        Assistant,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Meta {
        tags: Vec<String>,
    }

    fn where_refused(text: &str) -> (String, String) {
        match parse::<Body>(text.as_bytes()) {
            Ok(body) => panic!("{text} parsed: {body:?}"),
            Err(Refusal::Empty) => ("<empty>".into(), String::new()),
            Err(Refusal::NotAnObject) => ("<not an object>".into(), String::new()),
            Err(Refusal::Syntax(e)) => ("<syntax>".into(), e.to_string()),
            Err(Refusal::Data { path, reason }) => (path.bracketed(), reason),
        }
    }

    #[test]
    fn a_refused_field_is_named_wherever_it_sits() {
        let cases = [
            (r#"{"model": 5}"#, "model"),
            (r#"{"model": "m", "max_tokens": "ten"}"#, "max_tokens"),
            (r#"{"model": "m", "max_tokens": -1}"#, "max_tokens"),
            (r#"{"model": "m", "messages": {"role": "user"}}"#, "messages"),
            (r#"{"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]}"#, "messages[1].role"),
            (r#"{"model": "m", "messages": [{"role": "user", "content": ["a"]}]}"#, "messages[0].content"),
            // A missing field is reported at the object that lacks it.
            (r#"{"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user"}]}"#, "messages[1]"),
            (r#"{"model": "m", "messages": [{"role": "user"}, {"role": "user", "content": "a"}]}"#, "messages[0]"),
            (r#"{"max_tokens": 1}"#, ""),
            (r#"{"model": "m", "meta": {"tags": ["a", 2]}}"#, "meta.tags[1]"),
            (r#"{"model": "m", "meta": {"tags": "a"}}"#, "meta.tags"),
            (r#"{"model": "m", "meta": {}}"#, "meta"),
            // An unknown field is reported at the object that has it.
            (r#"{"model": "m", "frobnicate": 1}"#, ""),
            // Escapes and newlines in the text do not move the position.
            ("{\n  \"model\": \"m\\\"x\",\n  \"messages\": [\n    {\"role\": \"user\", \"content\": 1}\n  ]\n}", "messages[0].content"),
            (r#"{"model": "m", "me\u0074a": {"tags": [true]}}"#, "meta.tags[0]"),
        ];
        for (text, path) in cases {
            assert_eq!(where_refused(text).0, path, "{text}");
        }
        let (_, reason) = where_refused(r#"{"model": "m", "max_tokens": "ten"}"#);
        assert_eq!(reason, "invalid type: string \"ten\", expected u32");
        assert_eq!(where_refused(r#"{"model": "m""#).0, "<syntax>");
        // Bodies are objects: serde would read an array as a struct's fields in order.
        assert_eq!(where_refused(" \n ").0, "<empty>");
        assert_eq!(where_refused(r#"["m"]"#).0, "<not an object>");
        assert_eq!(where_refused("5").0, "<not an object>");
        assert_eq!(where_refused("[1,").0, "<syntax>");
        assert_eq!(where_refused(r#"{"model": "m"} x"#).0, "<syntax>");
    }

    #[test]
    fn paths_are_written_in_each_vendors_style() {
        let path = Path(vec![
            Segment::Key("messages".into()),
            Segment::Index(2),
            Segment::Key("content".into()),
            Segment::Index(0),
            Segment::Key("text".into()),
        ]);
        assert_eq!(path.bracketed(), "messages[2].content[0].text");
        assert_eq!(path.dotted(), "messages.2.content.0.text");
        assert_eq!(Path::default().bracketed(), "");
        // A missing field is named under the object that lacks it.
        assert_eq!(
            path.clone().of_param("missing field `type`").dotted(),
            "messages.2.content.0.text.type"
        );
        assert_eq!(
            Path::default().of_param("missing field `model`").bracketed(),
            "model"
        );
        assert_eq!(
            path.of_param("invalid type: null").bracketed(),
            "messages[2].content[0].text"
        );
    }

    #[test]
    fn a_position_past_the_end_or_inside_a_string_is_safe() {
        assert!(path_at(br#"{"a": "unterminated"#, 100).0 == vec![Segment::Key("a".into())]);
        assert!(path_at(b"", 5).is_empty());
        assert_eq!(offset_of(b"ab\ncd", 2, 1), 4);
        assert_eq!(offset_of(b"ab", 9, 9), 2);
    }
}
