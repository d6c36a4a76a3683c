//! Schema defaulting as the API server does it: a missing property with a `default` in the
//! schema gets that default, recursively, wherever its parent object is present.

use serde_json::Value;

/// Fills every missing defaulted property of `value` from `schema` (an openAPIV3Schema).
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (name, property) in properties {
                    if !map.contains_key(name)
                        && let Some(default) = property.get("default")
                    {
                        map.insert(name.clone(), default.clone());
                    }
                    if let Some(child) = map.get_mut(name) {
                        apply_defaults(property, child);
                    }
                }
            }
            if let Some(additional) = schema.get("additionalProperties")
                && additional.is_object()
            {
                for child in map.values_mut() {
                    apply_defaults(additional, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    apply_defaults(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_missing_fields_inside_present_objects_only() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "default": "x"},
                "o": {"type": "object", "properties": {"b": {"type": "integer", "default": 3}}},
                "l": {"type": "array", "items": {"type": "object", "properties": {"c": {"type": "boolean", "default": true}}}}
            }
        });
        let mut value = json!({"l": [{}, {"c": false}]});
        apply_defaults(&schema, &mut value);
        assert_eq!(value, json!({"a": "x", "l": [{"c": true}, {"c": false}]}));
        let mut value = json!({"o": {}});
        apply_defaults(&schema, &mut value);
        assert_eq!(value, json!({"a": "x", "o": {"b": 3}}));
    }
}
