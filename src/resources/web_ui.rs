//! Where the master serves its web UI and stats API, read from the test's command line and
//! literal environment variables the way Locust reads them: a flag on the command line wins
//! over its `LOCUST_*` variable, and the last occurrence of a flag wins.
//!
//! The master Service, the master's container port, the exporter sidecar and the operator's
//! stats reader all follow what this finds, so `--web-port` and `--web-base-path` in
//! `master.extraArgs` move everything together.

use crate::api::names::{
    FLAG_HEADLESS, FLAG_TLS_CERT, FLAG_WEB_BASE_PATH, FLAG_WEB_LOGIN, FLAG_WEB_PORT,
    FLAG_WEB_PORT_SHORT, WEB_PORT,
};
use crate::api::v2::LocustTestSpec;
use crate::resources::args::web_base_path;

// The variables Locust reads for those flags.
const ENV_WEB_PORT: &str = "LOCUST_WEB_PORT";
const ENV_WEB_BASE_PATH: &str = "LOCUST_WEB_BASE_PATH";
const ENV_HEADLESS: &str = "LOCUST_HEADLESS";
const ENV_WEB_LOGIN: &str = "LOCUST_WEB_LOGIN";
const ENV_TLS_CERT: &str = "LOCUST_TLS_CERT";

/// The master's web UI as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebUi {
    /// Port the master serves on (`--web-port`, default 8089).
    pub port: i32,
    /// Prefix of every endpoint (`--web-base-path`), empty or starting with `/`, no trailing `/`.
    pub base_path: String,
    /// Why the operator cannot read it, if it cannot.
    pub unreadable: Option<Unreadable>,
}

/// Why the master's stats API cannot be read by the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// `--headless`: there is no web UI.
    Headless,
    /// `--web-login` or `--tls-cert`: the UI needs a login or speaks HTTPS, which the operator
    /// does not do. The flag is named.
    Unsupported(&'static str),
}

impl Default for WebUi {
    /// Locust's defaults: port 8089 at the root, readable.
    fn default() -> Self {
        Self {
            port: WEB_PORT,
            base_path: String::new(),
            unreadable: None,
        }
    }
}

impl WebUi {
    /// The path of a stats API endpoint such as `/stats/requests`, under the base path.
    pub fn path(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.base_path)
    }
}

/// Reads the master's web UI settings from the spec.
pub fn master_web_ui(spec: &LocustTestSpec) -> WebUi {
    let tokens: Vec<&str> = spec
        .master
        .command
        .split_whitespace()
        .chain(spec.master.extra_args.iter().flatten().map(String::as_str))
        .collect();
    let env = |name: &str| -> Option<&str> {
        spec.env
            .as_ref()?
            .variables
            .as_ref()?
            .iter()
            .rfind(|v| v.name == name && v.value_from.is_none())?
            .value
            .as_deref()
    };
    let env_flag = |name: &str| env(name).is_some_and(truthy);

    let port = value_of(&tokens, &[FLAG_WEB_PORT, FLAG_WEB_PORT_SHORT])
        .or_else(|| env(ENV_WEB_PORT))
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|p| (1..=65535).contains(p))
        .unwrap_or(WEB_PORT);
    let base_path = web_base_path(spec)
        .or_else(|| value_of(&tokens, &[FLAG_WEB_BASE_PATH]))
        .or_else(|| env(ENV_WEB_BASE_PATH))
        .map(|p| p.trim().trim_end_matches('/').to_string())
        .unwrap_or_default();

    let unreadable = if has_flag(&tokens, FLAG_HEADLESS) || env_flag(ENV_HEADLESS) {
        Some(Unreadable::Headless)
    } else if has_flag(&tokens, FLAG_WEB_LOGIN) || env_flag(ENV_WEB_LOGIN) {
        Some(Unreadable::Unsupported(FLAG_WEB_LOGIN))
    } else if value_of(&tokens, &[FLAG_TLS_CERT]).is_some_and(|v| !v.is_empty())
        || env(ENV_TLS_CERT).is_some_and(|v| !v.trim().is_empty())
    {
        Some(Unreadable::Unsupported(FLAG_TLS_CERT))
    } else {
        None
    };
    WebUi {
        port,
        base_path,
        unreadable,
    }
}

/// How configargparse reads a boolean flag's variable.
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1"
    )
}

fn has_flag(tokens: &[&str], flag: &str) -> bool {
    tokens.contains(&flag)
}

/// The value of the last `--flag value` or `--flag=value` among `names`.
fn value_of<'a>(tokens: &[&'a str], names: &[&str]) -> Option<&'a str> {
    let mut found = None;
    for (i, token) in tokens.iter().enumerate() {
        for name in names {
            if token == name {
                if let Some(next) = tokens.get(i + 1) {
                    found = Some(*next);
                }
            } else if let Some(value) = token
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
            {
                found = Some(value);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn spec(command: &str, extra: &[&str], env: serde_json::Value) -> LocustTestSpec {
        serde_json::from_value(json!({
            "image": "locustio/locust:2.46.7",
            "master": {"command": command, "extraArgs": extra},
            "worker": {"command": "-f x.py", "replicas": 1},
            "env": {"variables": env},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn default_is_port_8089_at_the_root() {
        let ui = master_web_ui(&spec("-f x.py", &[], json!([])));
        assert_eq!(ui.port, 8089);
        assert_eq!(ui.path("/stats/requests"), "/stats/requests");
        assert_eq!(ui.unreadable, None);
    }

    #[test]
    fn extra_args_move_the_port_and_the_base_path() {
        let ui = master_web_ui(&spec(
            "-f x.py --web-port 9000",
            &["--web-base-path=/locust/", "-P", "9100"],
            json!([]),
        ));
        assert_eq!(ui.port, 9100);
        assert_eq!(ui.path("/stats/requests"), "/locust/stats/requests");
    }

    #[test]
    fn the_web_ui_field_sets_the_base_path_on_the_master_and_for_its_readers() {
        let mut with_field = spec(
            "-f x.py",
            &[],
            json!([{"name": "LOCUST_WEB_BASE_PATH", "value": "/ui"}]),
        );
        with_field.master.web_ui = Some(crate::api::v2::WebUiSpec {
            base_path: Some("/load/shop".to_string()),
            ..Default::default()
        });
        let ui = master_web_ui(&with_field);
        assert_eq!(ui.path("/stats/requests"), "/load/shop/stats/requests");
        let args = crate::resources::args::master_args(&with_field).unwrap();
        assert!(
            args.contains(&"--web-base-path=/load/shop".to_string()),
            "{args:?}"
        );
        // Without the field, the master's command line is unchanged.
        let plain = crate::resources::args::master_args(&spec("-f x.py", &[], json!([]))).unwrap();
        assert!(
            !plain.iter().any(|a| a.starts_with("--web-base-path")),
            "{plain:?}"
        );
    }

    #[test]
    fn command_line_wins_over_the_variable() {
        let ui = master_web_ui(&spec(
            "-f x.py --web-port=9000",
            &[],
            json!([{"name": "LOCUST_WEB_PORT", "value": "9200"}, {"name": "LOCUST_WEB_BASE_PATH", "value": "/ui"}]),
        ));
        assert_eq!(ui.port, 9000);
        assert_eq!(ui.base_path, "/ui");
    }

    #[test]
    fn headless_login_and_tls_are_unreadable() {
        let headless = master_web_ui(&spec("-f x.py --headless", &[], json!([])));
        assert_eq!(headless.unreadable, Some(Unreadable::Headless));
        let by_env = master_web_ui(&spec(
            "-f x.py",
            &[],
            json!([{"name": "LOCUST_HEADLESS", "value": "true"}]),
        ));
        assert_eq!(by_env.unreadable, Some(Unreadable::Headless));
        let login = master_web_ui(&spec("-f x.py", &["--web-login"], json!([])));
        assert_eq!(
            login.unreadable,
            Some(Unreadable::Unsupported(FLAG_WEB_LOGIN))
        );
        let tls = master_web_ui(&spec(
            "-f x.py --tls-cert /c.pem --tls-key /k.pem",
            &[],
            json!([]),
        ));
        assert_eq!(tls.unreadable, Some(Unreadable::Unsupported(FLAG_TLS_CERT)));
    }

    #[test]
    fn a_port_that_is_not_a_port_keeps_the_default() {
        let ui = master_web_ui(&spec("-f x.py --web-port 99999", &[], json!([])));
        assert_eq!(ui.port, 8089);
    }
}
