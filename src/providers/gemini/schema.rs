//! JSON Schema reduced to the OpenAPI subset Gemini accepts, for function parameters and
//! `responseSchema` (the rules are in the module docs of [`super`]).

use serde_json::{json, Map, Value};

/// How deep a schema is followed (and `$ref`s inlined) before the rest is cut to a plain object.
const MAX_SCHEMA_DEPTH: usize = 24;

/// A JSON Schema reduced to the OpenAPI subset Gemini accepts (see the module docs).
pub(super) fn clean_schema(schema: &Value) -> Value {
    let mut defs = Map::new();
    for key in ["definitions", "$defs"] {
        if let Some(Value::Object(found)) = schema.get(key) {
            defs.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    clean_node(schema, &defs, 0)
}

pub(super) fn is_empty_object_schema(schema: &Value) -> bool {
    let typed_object = match schema.get("type") {
        None => true,
        Some(t) => t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("object")),
    };
    typed_object
        && schema
            .get("properties")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
        && schema.get("anyOf").is_none()
}

fn resolve_ref<'a>(reference: &str, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let name = reference
        .strip_prefix("#/$defs/")
        .or_else(|| reference.strip_prefix("#/definitions/"))?;
    defs.get(name)
}

fn clean_node(node: &Value, defs: &Map<String, Value>, depth: usize) -> Value {
    let Some(schema) = node.as_object() else {
        // `true` / `{}`-like schemas: anything goes; Gemini needs a type, an object is the loosest.
        return json!({ "type": "object" });
    };
    if depth > MAX_SCHEMA_DEPTH {
        return json!({ "type": "object" });
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let mut resolved = match resolve_ref(reference, defs) {
            Some(target) => clean_node(target, defs, depth + 1),
            None => json!({ "type": "object" }),
        };
        if let (Some(description), Value::Object(out)) =
            (schema.get("description").and_then(Value::as_str), &mut resolved)
        {
            out.insert("description".into(), json!(description));
        }
        return resolved;
    }

    let mut out = Map::new();
    let mut nullable = schema.get("nullable") == Some(&Value::Bool(true));
    match schema.get("type") {
        Some(Value::String(kind)) if kind == "null" => nullable = true,
        Some(Value::String(kind)) => {
            out.insert("type".into(), json!(kind));
        }
        Some(Value::Array(kinds)) => {
            let named: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
            let concrete: Vec<&str> = named.iter().copied().filter(|k| *k != "null").collect();
            nullable |= concrete.len() < named.len();
            match concrete.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one));
                }
                many => {
                    let branches: Vec<Value> = many.iter().map(|k| json!({ "type": k })).collect();
                    out.insert("anyOf".into(), Value::Array(branches));
                }
            }
        }
        _ => {}
    }
    let kind = out
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();

    for (key, value) in schema {
        match key.as_str() {
            "description" | "pattern" if value.is_string() => {
                out.insert(key.clone(), value.clone());
            }
            "minimum" | "maximum" if value.is_number() => {
                out.insert(key.clone(), value.clone());
            }
            "minItems" | "maxItems" | "minLength" | "maxLength" | "minProperties" | "maxProperties"
                if value.is_u64() =>
            {
                out.insert(key.clone(), value.clone());
            }
            "propertyOrdering" if value.is_array() => {
                out.insert(key.clone(), value.clone());
            }
            "format" => {
                let allowed: &[&str] = match kind.as_str() {
                    "string" => &["enum", "date-time"],
                    "number" => &["float", "double"],
                    "integer" => &["int32", "int64"],
                    _ => &[],
                };
                if value.as_str().is_some_and(|f| allowed.contains(&f)) {
                    out.insert(key.clone(), value.clone());
                }
            }
            "items" => {
                // A tuple (`items: [..]`) is beyond Gemini: its first member stands for all.
                let item = match value {
                    Value::Array(members) => members.first(),
                    other => Some(other),
                };
                if let Some(item) = item {
                    out.insert("items".into(), clean_node(item, defs, depth + 1));
                }
            }
            "properties" => {
                if let Value::Object(properties) = value {
                    let cleaned: Map<String, Value> = properties
                        .iter()
                        .map(|(name, property)| (name.clone(), clean_node(property, defs, depth + 1)))
                        .collect();
                    if !cleaned.is_empty() {
                        out.insert("properties".into(), Value::Object(cleaned));
                    }
                }
            }
            _ => {}
        }
    }

    // Enumerations: strings only in Gemini. Other values are described instead.
    let mut values: Vec<Value> = match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => values.clone(),
        (None, Some(constant)) => vec![constant.clone()],
        _ => Vec::new(),
    };
    if values.iter().any(Value::is_null) {
        nullable = true;
        values.retain(|v| !v.is_null());
    }
    if !values.is_empty() {
        if values.iter().all(Value::is_string) && matches!(kind.as_str(), "string" | "") {
            if kind.is_empty() {
                out.insert("type".into(), json!("string"));
            }
            out.insert("enum".into(), Value::Array(values));
        } else {
            let listed: Vec<String> = values.iter().map(Value::to_string).collect();
            let note = format!("Allowed values: {}.", listed.join(", "));
            let description = match out.get("description").and_then(Value::as_str) {
                Some(existing) if !existing.is_empty() => format!("{existing} {note}"),
                _ => note,
            };
            out.insert("description".into(), json!(description));
        }
    }

    // Unions: null branches become `nullable`; a single remaining branch is the schema itself.
    let mut branches: Vec<Value> = Vec::new();
    for key in ["anyOf", "oneOf"] {
        for branch in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            let cleaned = clean_node(branch, defs, depth + 1);
            let only_null = branch.get("type").and_then(Value::as_str) == Some("null")
                || cleaned
                    .as_object()
                    .is_some_and(|c| c.get("nullable") == Some(&json!(true)) && c.len() == 1);
            if only_null {
                nullable = true;
            } else {
                branches.push(cleaned);
            }
        }
    }
    match branches.len() {
        0 => {}
        1 if !out.contains_key("type") && !out.contains_key("anyOf") => {
            if let Some(Value::Object(branch)) = branches.pop() {
                merge_missing(&mut out, branch);
            }
        }
        _ => {
            let mut all = match out.remove("anyOf") {
                Some(Value::Array(existing)) => existing,
                _ => Vec::new(),
            };
            all.extend(branches);
            out.insert("anyOf".into(), Value::Array(all));
        }
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Value::Object(cleaned) = clean_node(part, defs, depth + 1) {
            merge_missing(&mut out, cleaned);
        }
    }

    // `required` names only existing properties (Gemini rejects the others).
    if let (Some(Value::Array(required)), Some(Value::Object(properties))) =
        (schema.get("required"), out.get("properties"))
    {
        let kept: Vec<Value> = required
            .iter()
            .filter(|name| name.as_str().is_some_and(|n| properties.contains_key(n)))
            .cloned()
            .collect();
        if !kept.is_empty() {
            out.insert("required".into(), Value::Array(kept));
        }
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    Value::Object(out)
}

/// Adds `from`'s keys that `into` lacks; `properties` and `required` are united.
fn merge_missing(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (key.as_str(), into.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                for (name, property) in more {
                    existing.entry(name).or_insert(property);
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for name in more {
                    if !existing.contains(&name) {
                        existing.push(name);
                    }
                }
            }
            (_, Some(_), _) => {}
            (_, None, value) => {
                into.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_unions_and_constants_are_rewritten_into_gemini_terms() {
        // What Pydantic emits for `Optional[Address]`, a literal and a `Union[int, str]`.
        let cleaned = clean_schema(&json!({
            "$defs": {"Address": {"title": "Address", "type": "object",
                "properties": {"street": {"type": "string"}}, "required": ["street"]}},
            "type": "object",
            "properties": {
                "home": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": null},
                "work": {"$ref": "#/$defs/Address", "description": "Office"},
                "unit": {"const": "metric"},
                "note": {"type": ["string", "null"]},
                "id": {"type": ["integer", "string"]},
                "level": {"type": "integer", "enum": [1, 2, 3]},
                "kind": {"oneOf": [{"type": "string"}, {"type": "integer"}]}
            }
        }));
        assert_eq!(
            cleaned,
            json!({
                "type": "object",
                "properties": {
                    "home": {"type": "object", "properties": {"street": {"type": "string"}},
                             "required": ["street"], "nullable": true},
                    "work": {"type": "object", "properties": {"street": {"type": "string"}},
                             "required": ["street"], "description": "Office"},
                    "unit": {"type": "string", "enum": ["metric"]},
                    "note": {"type": "string", "nullable": true},
                    "id": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "level": {"type": "integer", "description": "Allowed values: 1, 2, 3."},
                    "kind": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
                }
            })
        );
    }

    #[test]
    fn a_recursive_schema_is_cut_rather_than_followed_forever() {
        let cleaned = clean_schema(&json!({
            "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}},
            "$ref": "#/definitions/Node"
        }));
        assert_eq!(cleaned["type"], "object");
        assert!(cleaned.to_string().len() < 10_000);
    }
}
