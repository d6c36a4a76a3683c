//! The API server's audit log, kept for writes made by ServiceAccounts outside kube-system (the
//! operator's identities): who wrote what, and when, as the API server saw it. The controller
//! tests read it to prove that at most one operator replica writes at any time.

use std::path::Path;

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
    let text = std::fs::read_to_string(cluster.dir.join(LOG)).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|event| {
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
        })
        .collect()
}
