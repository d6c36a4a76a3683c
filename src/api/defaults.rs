//! Schema defaulting as the API server does it: a missing property with a `default` in the
//! schema gets that default, recursively, wherever its parent object is present.

use serde_json::Value;

/// Fills every missing defaulted property of `value` from `schema` (an openAPIV3Schema).
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    *value = kube::core::cel::apply_defaults(schema, value);
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
