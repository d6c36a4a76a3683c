//! The chart's template sources (`src/manifests/helm/templates/`) are Helm template text with
//! placeholders `[[NAME]]` (NAME: capitals, digits and `_`) for what comes from Rust: constants,
//! generated YAML, Helm conditions. [`Source::fill`] replaces each placeholder with its value.
//!
//! Filling is strict: a placeholder without a value, a value no placeholder uses, a name given
//! twice, or a `[[` that does not open a placeholder is an error, so a renamed constant or
//! placeholder fails `generate` instead of drifting.
//!
//! A value spanning several lines keeps its shape: the lines after the first are indented to the
//! placeholder's column (`- [[ITEM]]` at column 12 puts them at column 14, under the first line's
//! keys); empty lines stay empty. A value's final line break is dropped: the text after the
//! placeholder (usually the template's own line break) follows its last line.

use std::fmt::Display;

use crate::manifests::yaml::RenderError;

const OPEN: &str = "[[";
const CLOSE: &str = "]]";

/// One template source: its path under `templates/` (named in errors) and its text.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    pub path: &'static str,
    pub text: &'static str,
}

/// The [`Source`] `src/manifests/helm/templates/<path>`, read at compile time.
macro_rules! source {
    ($path:literal) => {
        $crate::manifests::helm::fill::Source {
            path: $path,
            text: include_str!(concat!("templates/", $path)),
        }
    };
}
pub(crate) use source;

/// A placeholder's name and the value that replaces it.
pub type Value<'a> = (&'a str, &'a dyn Display);

impl Source {
    /// The text with every placeholder replaced by its value from `values`.
    pub fn fill(&self, values: &[Value]) -> Result<String, RenderError> {
        let values = self.checked(values)?;
        let mut used = vec![false; values.len()];
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let name = after
                .find(CLOSE)
                .map(|end| &after[..end])
                .filter(|name| is_name(name))
                .ok_or_else(|| self.malformed(self.text.len() - rest.len() + start))?;
            let index = values.iter().position(|(n, _)| *n == name).ok_or_else(|| {
                RenderError::MissingValue {
                    template: self.path,
                    name: name.to_string(),
                }
            })?;
            used[index] = true;
            out.push_str(&continued(&values[index].1, column(&out)));
            rest = &after[name.len() + CLOSE.len()..];
        }
        out.push_str(rest);
        match values.iter().zip(&used).find(|(_, used)| !**used) {
            Some(((name, _), _)) => Err(RenderError::UnusedValue {
                template: self.path,
                name: name.to_string(),
            }),
            None => Ok(out),
        }
    }

    /// The values as text, refusing a name given twice.
    fn checked<'a>(&self, values: &[Value<'a>]) -> Result<Vec<(&'a str, String)>, RenderError> {
        let mut out: Vec<(&str, String)> = Vec::with_capacity(values.len());
        for (name, value) in values {
            if out.iter().any(|(n, _)| n == name) {
                return Err(RenderError::DuplicateValue {
                    template: self.path,
                    name: name.to_string(),
                });
            }
            out.push((name, value.to_string()));
        }
        Ok(out)
    }

    /// The error for a `[[` at byte `offset` that does not open a placeholder.
    fn malformed(&self, offset: usize) -> RenderError {
        RenderError::MalformedPlaceholder {
            template: self.path,
            line: self.text[..offset].matches('\n').count() + 1,
        }
    }
}

/// Capitals, digits and `_`, starting with a capital.
fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The column at the end of `text` (characters since its last line break).
fn column(text: &str) -> usize {
    let line_start = text.rfind('\n').map_or(0, |i| i + 1);
    text[line_start..].chars().count()
}

/// `value` without its final line break, each line after the first indented by `column`.
fn continued(value: &str, column: usize) -> String {
    let value = value.strip_suffix('\n').unwrap_or(value);
    let pad = " ".repeat(column);
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
            }
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;

    fn source(text: &'static str) -> Source {
        Source {
            path: "test.yaml",
            text,
        }
    }

    #[test]
    fn fills_every_placeholder_and_leaves_go_templates_alone() {
        let text = source("name: {{ include \"[[CHART]].fullname\" . }}\nport: [[PORT]]\n")
            .fill(&[("CHART", &"demo"), ("PORT", &8081)]);
        assert_eq!(
            text.unwrap_or_default(),
            "name: {{ include \"demo.fullname\" . }}\nport: 8081\n"
        );
    }

    #[test]
    fn a_placeholder_may_repeat() {
        let text = source("[[A]]-[[A]]").fill(&[("A", &"x")]);
        assert_eq!(text.unwrap_or_default(), "x-x");
    }

    #[test]
    fn a_placeholder_without_value_is_named() {
        let err = source("a: [[PORT]]\nb: [[NAME]]\n").fill(&[("PORT", &1)]);
        assert!(
            matches!(&err, Err(RenderError::MissingValue { template: "test.yaml", name }) if name == "NAME"),
            "{err:?}"
        );
    }

    #[test]
    fn an_unused_value_is_named() {
        let err = source("a: [[PORT]]\n").fill(&[("PORT", &1), ("OLD_PORT", &2)]);
        assert!(
            matches!(&err, Err(RenderError::UnusedValue { template: "test.yaml", name }) if name == "OLD_PORT"),
            "{err:?}"
        );
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let err = source("[[A]]").fill(&[("A", &1), ("A", &2)]);
        assert!(
            matches!(&err, Err(RenderError::DuplicateValue { name, .. }) if name == "A"),
            "{err:?}"
        );
    }

    #[test]
    fn a_malformed_placeholder_is_refused_with_its_line() {
        for text in ["ok\n[[ A ]]\n", "ok\n[[a]]\n", "ok\n[[A\n", "ok\n[[]]\n"] {
            let err = source(text).fill(&[("A", &1)]);
            assert!(
                matches!(err, Err(RenderError::MalformedPlaceholder { line: 2, .. })),
                "{text:?}: {err:?}"
            );
        }
    }

    #[test]
    fn multi_line_values_are_indented_to_the_placeholder_column() {
        let text = source("env:\n  [[ENV]]\nmounts:\n  - [[MOUNT]]\nend\n").fill(&[
            ("ENV", &"- name: A\n  value: x\n\n- name: B\n"),
            ("MOUNT", &"mountPath: /tmp\nname: tmp\n"),
        ]);
        assert_eq!(
            text.unwrap_or_default(),
            "env:\n  - name: A\n    value: x\n\n  - name: B\nmounts:\n  - mountPath: /tmp\n    name: tmp\nend\n"
        );
    }

    #[test]
    fn only_one_final_line_break_is_dropped() {
        let text = source("[[A]]\nEOF\n").fill(&[("A", &"x\n\n")]);
        assert_eq!(text.unwrap_or_default(), "x\n\nEOF\n");
    }

    /// Paths of the files under `dir`, relative to `root`.
    fn files(root: &Path, dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files(root, &path));
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
        out
    }

    #[test]
    fn every_template_source_is_read() {
        let helm = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/manifests/helm");
        let code: String = fs::read_dir(&helm)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
            .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        let sources = helm.join("templates");
        let files = files(&sources, &sources);
        assert!(files.len() > 10 && code.contains("fn fill"), "{files:?}");
        for file in files {
            assert!(
                code.contains(&format!("source!(\"{file}\")")),
                "templates/{file} is read by no source!()"
            );
        }
    }
}
