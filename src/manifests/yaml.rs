//! Small text helpers for generated YAML and Helm templates.

use serde::Serialize;

use super::rbac::{Rule, When};

/// Why rendering failed: the CRD could not be built, a value does not serialize, or a Helm
/// template source and the values filling it do not match (see [`super::helm::fill`]).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot build the LocustTest CRD: {0}")]
    Crd(#[from] crate::api::crd::CrdError),
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("template {template}: placeholder [[{name}]] has no value")]
    MissingValue {
        template: &'static str,
        name: String,
    },
    #[error("template {template}: value {name} fills no placeholder")]
    UnusedValue {
        template: &'static str,
        name: String,
    },
    #[error("template {template}: value {name} is given twice")]
    DuplicateValue {
        template: &'static str,
        name: String,
    },
    #[error(
        "template {template}, line {line}: `[[` opens no placeholder `[[NAME]]` (NAME: capitals, digits and _)"
    )]
    MalformedPlaceholder { template: &'static str, line: usize },
}

/// YAML of one value, without the generated-file header.
pub fn plain<T: Serialize + ?Sized>(value: &T) -> Result<String, RenderError> {
    Ok(serde_yaml::to_string(value)?)
}

/// Indents every non-empty line by `spaces`.
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .map(|line| {
            if line.is_empty() {
                String::new()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key:` followed by the YAML of `value` indented below it, at `spaces` indentation.
pub fn field<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    spaces: usize,
) -> Result<String, RenderError> {
    Ok(format!(
        "{}{key}:\n{}",
        " ".repeat(spaces),
        indent(&plain(value)?, spaces + 2)
    ))
}

/// A YAML mapping turned into a sequence item (`- ` before the first line).
pub fn list_item(mapping: &str) -> String {
    mapping
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("- {line}")
            } else if line.is_empty() {
                String::new()
            } else {
                format!("  {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `rules:` list with each rule's reason as a comment. `condition` turns a rule's [`When`]
/// into a Helm `if` expression (None: unconditional); `config/` passes one that is always None.
pub fn rules(
    rules: &[Rule],
    condition: impl Fn(When) -> Option<String>,
) -> Result<String, RenderError> {
    let mut out = String::from("rules:\n");
    for rule in rules {
        let item = format!(
            "  # {}\n{}\n",
            rule.why,
            indent(&list_item(&plain(&rule.rule)?), 2)
        );
        match condition(rule.when) {
            Some(expr) => {
                out.push_str(&["  {{- if ", &expr, " }}\n", &item, "  {{- end }}\n"].concat())
            }
            None => out.push_str(&item),
        }
    }
    Ok(out)
}

/// Wraps `text` at `width` columns on spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_item_prefixes_the_first_line_only() {
        assert_eq!(list_item("a: 1\nb:\n  c: 2"), "- a: 1\n  b:\n    c: 2");
    }

    #[test]
    fn wrap_keeps_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
    }
}
