//! `locust-k8s-operator validate` on every fixture: valid ones pass, invalid ones fail with the
//! expected messages. The same fixtures go to a real API server in tests/api_server.rs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
mod support {
    pub mod fixtures;
}

use std::io::Write;
use std::process::{Command, Stdio};

use support::fixtures;

fn validate(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_locust-k8s-operator"))
        .arg("validate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn every_fixture_gets_the_expected_verdict() {
    let mut failures = Vec::new();
    for fixture in fixtures::all() {
        let (ok, out) = validate(&["-f", fixture.path.to_str().unwrap()], None);
        if fixture.is_valid() && !ok {
            failures.push(format!("{} should be valid, got:\n{out}", fixture.name));
        }
        if !fixture.is_valid() {
            if ok {
                failures.push(format!("{} should be refused", fixture.name));
            }
            for fragment in &fixture.expected {
                if !out.contains(fragment.as_str()) {
                    failures.push(format!("{}: missing {fragment:?} in:\n{out}", fixture.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn multi_document_stdin_reports_one_line_per_problem() {
    let all = fixtures::all();
    let invalid: Vec<_> = all.iter().filter(|f| !f.is_valid()).take(3).collect();
    let valid = all.iter().find(|f| f.is_valid()).unwrap();
    let mut stream = valid.text.clone();
    for f in &invalid {
        stream.push_str("\n---\n");
        stream.push_str(&f.text);
    }
    let (ok, out) = validate(&["-f", "-"], Some(&stream));
    assert!(!ok);
    let lines: Vec<_> = out.lines().collect();
    assert!(lines.len() >= invalid.len(), "{out}");
    assert!(lines.iter().all(|l| l.starts_with("LocustTest ")), "{out}");
}

#[test]
fn unreadable_file_fails() {
    let (ok, _) = validate(&["-f", "/nonexistent/locusttest.yaml"], None);
    assert!(!ok);
}
