//! The API server's audit log, kept for writes made by ServiceAccounts outside kube-system (the
//! operator's identities): who wrote what, and when, as the API server saw it. The controller
//! tests read it to prove that at most one operator replica writes at any time.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::Value;

use super::Cluster;

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
- level: Metadata
  userGroups: ["system:serviceaccounts"]
  verbs: [create, update, patch, delete, deletecollection]
- level: None
"#;

const LOG: &str = "audit.log";

/// The API server flags that write the log into the cluster directory.
pub fn flags(dir: &Path) -> Result<Vec<String>, String> {
    let policy = dir.join("audit-policy.yaml");
    std::fs::write(&policy, POLICY).map_err(|e| format!("{}: {e}", policy.display()))?;
    Ok(vec![
        format!("--audit-policy-file={}", policy.display()),
        format!("--audit-log-path={}", dir.join(LOG).display()),
        // One line per request, written before the response is sent.
        "--audit-log-mode=blocking".into(),
        "--audit-log-maxsize=0".into(),
    ])
}

/// One write as the API server recorded it.
#[derive(Clone, Debug)]
pub struct Write {
    pub user: String,
    pub verb: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub code: i64,
    pub received: Timestamp,
    pub completed: Timestamp,
}

/// Every write by a ServiceAccount outside kube-system recorded so far.
pub fn writes(cluster: &Cluster) -> Vec<Write> {
    Tail::new(cluster).next()
}

/// The log read from where the last call stopped: each call returns only the writes recorded
/// since, so a loop that polls the log does not parse it whole each time (with 10,000 tests it
/// holds about 60,000 lines).
pub struct Tail {
    path: PathBuf,
    offset: u64,
}

impl Tail {
    pub fn new(cluster: &Cluster) -> Self {
        Tail {
            path: cluster.dir.join(LOG),
            offset: 0,
        }
    }

    /// The writes of the lines completed since the last call (a line still being written is
    /// left for the next one).
    pub fn next(&mut self) -> Vec<Write> {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.offset += complete as u64;
        String::from_utf8_lossy(&bytes[..complete])
            .lines()
            .filter_map(parse)
            .collect()
    }
}

/// One line of the log, if it is a write with the fields every record of this policy has.
fn parse(line: &str) -> Option<Write> {
    let event = serde_json::from_str::<Value>(line).ok()?;
    let text = |v: &Value| v.as_str().map(str::to_string);
    let time = |key: &str| event[key].as_str()?.parse::<Timestamp>().ok();
    Some(Write {
        user: text(&event["user"]["username"])?,
        verb: text(&event["verb"])?,
        resource: text(&event["objectRef"]["resource"]).unwrap_or_default(),
        subresource: text(&event["objectRef"]["subresource"]),
        namespace: text(&event["objectRef"]["namespace"]),
        name: text(&event["objectRef"]["name"]),
        code: event["responseStatus"]["code"].as_i64().unwrap_or(0),
        received: time("requestReceivedTimestamp")?,
        completed: time("stageTimestamp")?,
    })
}
