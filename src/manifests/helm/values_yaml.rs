//! `values.yaml`: the default [`Values`] with each key's description (from the doc comments,
//! through the JSON schema) as a comment above it.

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use crate::manifests::yaml::{RenderError, indent, plain, wrap};

use super::values::Values;

const WIDTH: usize = 100;

/// The schema node for a property, looking through `anyOf: [T, null]`.
fn property<'a>(schema: Option<&'a Json>, key: &str) -> Option<&'a Json> {
    schema?.get("properties")?.get(key)
}

fn object_schema(schema: Option<&Json>) -> Option<&Json> {
    let schema = schema?;
    if schema.get("properties").is_some() {
        return Some(schema);
    }
    schema
        .get("anyOf")?
        .as_array()?
        .iter()
        .find(|s| s.get("properties").is_some())
}

fn comment(out: &mut String, description: &str, depth: usize) {
    let pad = " ".repeat(depth);
    for line in wrap(description, WIDTH - depth - 2) {
        if line.is_empty() {
            out.push_str(&format!("{pad}#\n"));
        } else {
            out.push_str(&format!("{pad}# {line}\n"));
        }
    }
}

fn emit_mapping(
    out: &mut String,
    mapping: &serde_yaml::Mapping,
    schema: Option<&Json>,
    depth: usize,
) -> Result<(), RenderError> {
    let pad = " ".repeat(depth);
    for (key, value) in mapping {
        let Some(key) = key.as_str() else { continue };
        let prop = property(schema, key);
        if depth == 0 && !out.is_empty() {
            out.push('\n');
        }
        if let Some(description) = prop
            .and_then(|p| p.get("description"))
            .and_then(Json::as_str)
        {
            comment(out, description, depth);
        }
        match value {
            Yaml::Mapping(inner) if !inner.is_empty() && object_schema(prop).is_some() => {
                out.push_str(&format!("{pad}{key}:\n"));
                emit_mapping(out, inner, object_schema(prop), depth + 2)?;
            }
            Yaml::String(text) if text.contains('\n') => {
                out.push_str(&format!(
                    "{pad}{key}: |\n{}\n",
                    indent(text.trim_end(), depth + 2)
                ));
            }
            _ => {
                let text = plain(value)?;
                let text = text.trim_end();
                if text.contains('\n') {
                    out.push_str(&format!("{pad}{key}:\n{}\n", indent(text, depth + 2)));
                } else {
                    out.push_str(&format!("{pad}{key}: {text}\n"));
                }
            }
        }
    }
    Ok(())
}

/// The commented `values.yaml` of `values`, described by `schema`.
pub fn render(values: &Values, schema: &Json) -> Result<String, RenderError> {
    let tree = serde_yaml::to_value(values)?;
    let mut out = String::new();
    if let Yaml::Mapping(mapping) = &tree {
        emit_mapping(&mut out, mapping, Some(schema), 0)?;
    }
    Ok(out)
}
