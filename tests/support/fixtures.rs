//! The manifests under tests/fixtures: `valid/` must be accepted, `invalid/` refused with every
//! message fragment named by its `# expect: ...` header lines.

use std::path::{Path, PathBuf};

pub struct Fixture {
    pub path: PathBuf,
    pub name: String,
    pub text: String,
    /// Empty for valid fixtures.
    pub expected: Vec<String>,
}

impl Fixture {
    pub fn is_valid(&self) -> bool {
        self.expected.is_empty()
    }

    pub fn value(&self) -> serde_json::Value {
        serde_yaml::from_str(&self.text)
            .unwrap_or_else(|e| panic!("fixture {} is not YAML: {e}", self.name))
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every fixture, valid ones first, in name order.
pub fn all() -> Vec<Fixture> {
    let mut fixtures = Vec::new();
    for kind in ["valid", "invalid"] {
        let dir = fixtures_dir().join(kind);
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let expected: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix("# expect: "))
                .map(|s| s.trim().to_string())
                .collect();
            assert_eq!(
                kind == "invalid",
                !expected.is_empty(),
                "{}: invalid fixtures need `# expect:` lines and valid ones none",
                path.display()
            );
            fixtures.push(Fixture {
                name: format!(
                    "{kind}/{}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                ),
                path,
                text,
                expected,
            });
        }
    }
    fixtures
}
