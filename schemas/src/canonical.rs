//! The Parsing Canonical Form of the Avro specification, which the single-object
//! fingerprint is computed over.
//!
//! apache-avro 0.21's `Schema::canonical_form` departs from the specification for logical
//! types: it writes `{"type":"long"}` for a `timestamp-millis` instead of `"long"` and keeps
//! a decimal's `precision` and `scale`, which [STRIP] removes. Its fingerprints therefore
//! differ from those of Java (`SchemaNormalization`), fastavro and every other
//! implementation, and a single-object header it writes would not be recognised by them.
//! This module follows the specification's rules instead; the tests compare it with
//! fastavro's fingerprints.

use digest::Digest;
use serde_json::{Map, Value};

use apache_avro::rabin::Rabin;

use crate::contract::Fingerprint;

/// A schema JSON document that is not a well-formed Avro schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed Avro schema: {0}")]
pub struct CanonicalFormError(String);

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// The Parsing Canonical Form of a schema given as JSON text.
pub fn parsing_canonical_form(schema_json: &str) -> Result<String, CanonicalFormError> {
    let schema: Value = serde_json::from_str(schema_json)
        .map_err(|error| CanonicalFormError(format!("invalid JSON: {error}")))?;
    let mut out = String::with_capacity(schema_json.len());
    write_schema(&schema, "", &mut out)?;
    Ok(out)
}

/// The CRC-64-AVRO fingerprint of a schema given as JSON text.
pub fn fingerprint_of_json(schema_json: &str) -> Result<Fingerprint, CanonicalFormError> {
    parsing_canonical_form(schema_json).map(|form| fingerprint_of_canonical_form(&form))
}

/// The CRC-64-AVRO fingerprint of an already canonical form.
pub fn fingerprint_of_canonical_form(canonical_form: &str) -> Fingerprint {
    Fingerprint(Rabin::digest(canonical_form.as_bytes()).into())
}

fn write_string(text: &str, out: &mut String) {
    // [STRINGS]: serde_json writes non-ASCII characters as UTF-8 and escapes only what JSON
    // requires, as the specification asks.
    out.push_str(&Value::String(text.to_owned()).to_string());
}

/// [FULLNAMES]: a dotted name is already full; otherwise the namespace applies.
fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}

fn namespace_of(full_name: &str) -> &str {
    full_name
        .rsplit_once('.')
        .map_or("", |(namespace, _)| namespace)
}

fn text<'v>(map: &'v Map<String, Value>, key: &str) -> Result<&'v str, CanonicalFormError> {
    map.get(key).and_then(Value::as_str).ok_or_else(|| {
        CanonicalFormError(format!(
            "a {key:?} string is missing in {}",
            Value::Object(map.clone())
        ))
    })
}

fn write_schema(
    schema: &Value,
    namespace: &str,
    out: &mut String,
) -> Result<(), CanonicalFormError> {
    match schema {
        Value::String(name) if PRIMITIVES.contains(&name.as_str()) => write_string(name, out),
        // A reference to a named type defined earlier.
        Value::String(name) => write_string(&full_name(name, namespace), out),
        Value::Array(branches) => {
            out.push('[');
            for (index, branch) in branches.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_schema(branch, namespace, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_complex(map, namespace, out)?,
        other => {
            return Err(CanonicalFormError(format!(
                "unexpected JSON {other} as a schema"
            )));
        }
    }
    Ok(())
}

/// Writes an object schema with [STRIP] and [ORDER] applied: only `name`, `type`, `fields`,
/// `symbols`, `items`, `values` and `size`, in that order.
fn write_complex(
    map: &Map<String, Value>,
    namespace: &str,
    out: &mut String,
) -> Result<(), CanonicalFormError> {
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // `{"type": <schema>}` is the nested schema itself.
        Some(nested) => return write_schema(nested, namespace, out),
        None => {
            return Err(CanonicalFormError(format!(
                "no \"type\" in {}",
                Value::Object(map.clone())
            )));
        }
    };
    let named = |out: &mut String| -> Result<String, CanonicalFormError> {
        let own_namespace = map
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or(namespace);
        let name = full_name(text(map, "name")?, own_namespace);
        out.push_str("{\"name\":");
        write_string(&name, out);
        out.push_str(",\"type\":");
        write_string(kind, out);
        Ok(name)
    };
    match kind {
        // [PRIMITIVES]: logical types and other attributes are stripped.
        primitive if PRIMITIVES.contains(&primitive) => write_string(primitive, out),
        "record" | "error" => {
            let name = named(out)?;
            out.push_str(",\"fields\":[");
            let fields = map.get("fields").and_then(Value::as_array).ok_or_else(|| {
                CanonicalFormError(format!("record {name} has no \"fields\" array"))
            })?;
            for (index, field) in fields.iter().enumerate() {
                let field = field.as_object().ok_or_else(|| {
                    CanonicalFormError(format!("a field of {name} is not an object"))
                })?;
                if index > 0 {
                    out.push(',');
                }
                out.push_str("{\"name\":");
                write_string(text(field, "name")?, out);
                out.push_str(",\"type\":");
                let field_type = field.get("type").ok_or_else(|| {
                    CanonicalFormError(format!("a field of {name} has no \"type\""))
                })?;
                write_schema(field_type, namespace_of(&name), out)?;
                out.push('}');
            }
            out.push_str("]}");
        }
        "enum" => {
            let name = named(out)?;
            out.push_str(",\"symbols\":[");
            let symbols = map
                .get("symbols")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    CanonicalFormError(format!("enum {name} has no \"symbols\" array"))
                })?;
            for (index, symbol) in symbols.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                let symbol = symbol.as_str().ok_or_else(|| {
                    CanonicalFormError(format!("enum {name} has a non-string symbol"))
                })?;
                write_string(symbol, out);
            }
            out.push_str("]}");
        }
        "fixed" => {
            let name = named(out)?;
            // [INTEGERS]: written as a plain JSON integer whatever the input's form.
            let size = map
                .get("size")
                .and_then(|size| {
                    size.as_u64()
                        .or_else(|| size.as_str().and_then(|s| s.parse().ok()))
                })
                .ok_or_else(|| {
                    CanonicalFormError(format!("fixed {name} has no integer \"size\""))
                })?;
            out.push_str(&format!(",\"size\":{size}}}"));
        }
        "array" | "map" => {
            let key = if kind == "array" { "items" } else { "values" };
            let inner = map
                .get(key)
                .ok_or_else(|| CanonicalFormError(format!("{kind} has no \"{key}\"")))?;
            out.push_str("{\"type\":");
            write_string(kind, out);
            out.push_str(&format!(",\"{key}\":"));
            write_schema(inner, namespace, out)?;
            out.push('}');
        }
        // `{"type": "some.Named"}` refers to a named type defined earlier.
        reference => write_string(&full_name(reference, namespace), out),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_types_reduce_to_their_underlying_primitive() {
        let form = parsing_canonical_form(
            r#"{"type": "record", "name": "R", "namespace": "a.b", "doc": "x", "fields": [
                {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}, "doc": "d"},
                {"name": "d", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}], "default": null},
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
                {"name": "again", "type": "E"},
                {"name": "f", "type": {"type": "fixed", "name": "x.F", "size": "16"}},
                {"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "string"}}}
            ]}"#,
        )
        .expect("valid schema");
        assert_eq!(
            form,
            concat!(
                r#"{"name":"a.b.R","type":"record","fields":["#,
                r#"{"name":"t","type":"long"},"#,
                r#"{"name":"d","type":["null","bytes"]},"#,
                r#"{"name":"e","type":{"name":"a.b.E","type":"enum","symbols":["A","B"]}},"#,
                r#"{"name":"again","type":"a.b.E"},"#,
                r#"{"name":"f","type":{"name":"x.F","type":"fixed","size":16}},"#,
                r#"{"name":"m","type":{"type":"map","values":{"type":"array","items":"string"}}}]}"#
            )
        );
    }

    #[test]
    fn malformed_schemas_are_errors() {
        for bad in [
            "{",
            r#"{"type": "record", "name": "R"}"#,
            r#"{"name": "x"}"#,
            "42",
        ] {
            assert!(parsing_canonical_form(bad).is_err(), "{bad}");
        }
    }
}
