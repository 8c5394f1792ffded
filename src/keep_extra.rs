//! `Deserialize` for the structs that keep the members they do not name (`extra`), in one pass.
//!
//! serde's `#[serde(flatten)]` buffers the whole object into its private `Content` tree and
//! reads it a second time; on an upstream stream that is every chunk, and it compiles a second
//! reader for each type. These structs keep `#[serde(flatten)]` for serializing only.

/// A missing member: take its default.
pub fn or_default<T: Default>() -> Result<T, &'static str> {
    Ok(T::default())
}

/// A missing member: refuse the object, as serde would (`missing field `name``).
pub fn required<T>(name: &'static str) -> Result<T, &'static str> {
    Err(name)
}

/// `deserialize_keeping_extra!(Type { field: default, ... } skipped: a, b)`: each named field is
/// read from the member of its name, a member named twice is refused, a missing one takes
/// `default` (`or_default()`, `Ok(value)` or `required("field")`), every other member goes into
/// `extra`, and the `skipped` fields (serde's `skip`) take their `Default`.
macro_rules! deserialize_keeping_extra {
    ($ty:ident { $($field:ident: $default:expr),* $(,)? } $(skipped: $($skipped:ident),*)?) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Members;
                impl<'de> serde::de::Visitor<'de> for Members {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty), " object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        use serde::de::Error;
                        $(let mut $field = None;)*
                        let mut extra = serde_json::Map::new();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $(stringify!($field) => {
                                    if $field.is_some() {
                                        return Err(A::Error::duplicate_field(stringify!($field)));
                                    }
                                    $field = Some(map.next_value()?);
                                })*
                                _ => {
                                    let value = map.next_value()?;
                                    extra.insert(key, value);
                                }
                            }
                        }
                        Ok($ty {
                            $($field: match $field {
                                Some(value) => value,
                                None => ($default).map_err(A::Error::missing_field)?,
                            },)*
                            extra,
                            $($($skipped: Default::default(),)*)?
                        })
                    }
                }
                deserializer.deserialize_map(Members)
            }
        }
    };
}

pub(crate) use deserialize_keeping_extra;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    #[derive(Debug, PartialEq)]
    struct Probe {
        id: String,
        count: u32,
        label: Option<String>,
        extra: Map<String, Value>,
        cached: u64,
    }

    deserialize_keeping_extra!(Probe {
        id: required("id"),
        count: Ok(7),
        label: or_default(),
    } skipped: cached);

    fn read(text: &str) -> Result<Probe, String> {
        serde_json::from_slice(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn named_members_are_typed_and_the_rest_kept_in_order() {
        let probe = read(r#"{"zeta": [1], "id": "a", "alpha": {"b": null}, "label": null}"#).unwrap();
        assert_eq!(probe.id, "a");
        assert_eq!(probe.count, 7);
        assert_eq!(probe.label, None);
        assert_eq!(probe.cached, 0);
        assert_eq!(
            Value::Object(probe.extra),
            json!({"zeta": [1], "alpha": {"b": null}})
        );
        let keys: Vec<String> = read(r#"{"id": "a", "z": 1, "a": 2}"#)
            .unwrap()
            .extra
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn wrong_missing_and_repeated_members_are_refused_as_serde_would() {
        assert!(read(r#"{"count": 1}"#)
            .unwrap_err()
            .starts_with("missing field `id`"));
        assert!(read(r#"{"id": "a", "count": "x"}"#)
            .unwrap_err()
            .starts_with("invalid type: string \"x\", expected u32"));
        assert!(read(r#"{"id": "a", "id": "b"}"#)
            .unwrap_err()
            .starts_with("duplicate field `id`"));
        assert!(read(r#"["a"]"#).unwrap_err().contains("expected a Probe object"));
        assert!(read(r#"{"id": "a", "x": }"#).is_err());
    }
}
