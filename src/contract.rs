//! The contract of `locust-k8s-operator run`: its environment variables, ports, paths and
//! modes, written once.
//!
//! The running operator reads them through the clap attributes of
//! [`crate::operator::RunArgs`] and [`crate::webhook::WebhookArgs`], which name these constants;
//! the generator ([`crate::manifests::deployment`], the Helm chart, the CSV) writes the same
//! constants into the Deployment. A renamed variable or a moved port therefore changes both
//! sides at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::builder::PossibleValue;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `--kubeconfig`.
pub const ENV_KUBECONFIG_PATH: &str = "KUBECONFIG_PATH";
/// `--watch-namespace`; empty watches every namespace.
pub const ENV_WATCH_NAMESPACE: &str = "WATCH_NAMESPACE";
/// `--leader-elect`.
pub const ENV_LEADER_ELECT: &str = "LEADER_ELECT";
/// `--leader-election-namespace`.
pub const ENV_LEADER_ELECTION_NAMESPACE: &str = "LEADER_ELECTION_NAMESPACE";
/// `--leader-election-id`.
pub const ENV_LEADER_ELECTION_ID: &str = "LEADER_ELECTION_ID";
/// `--health-probe-bind-address`.
pub const ENV_HEALTH_PROBE_BIND_ADDRESS: &str = "HEALTH_PROBE_BIND_ADDRESS";
/// `--metrics-bind-address`.
pub const ENV_METRICS_BIND_ADDRESS: &str = "METRICS_BIND_ADDRESS";
/// `--log-format`.
pub const ENV_LOG_FORMAT: &str = "LOG_FORMAT";
/// `--pod-diagnosis-grace-period`.
pub const ENV_POD_DIAGNOSIS_GRACE_PERIOD: &str = "POD_DIAGNOSIS_GRACE_PERIOD";
/// `--max-concurrent-reconciles`.
pub const ENV_MAX_CONCURRENT_RECONCILES: &str = "MAX_CONCURRENT_RECONCILES";
/// `--kube-api-qps`: the controller's client-side rate limit; 0 (the default) is none.
pub const ENV_KUBE_API_QPS: &str = "KUBE_API_QPS";
/// `--kube-api-burst`.
pub const ENV_KUBE_API_BURST: &str = "KUBE_API_BURST";
/// `--stats-access` (the chart sets it from `liveStats.access`).
pub const ENV_STATS_ACCESS: &str = "STATS_ACCESS";
/// `--stats-poll-interval` (the chart sets it from `liveStats.pollInterval`).
pub const ENV_STATS_POLL_INTERVAL: &str = "STATS_POLL_INTERVAL";
/// `--stats-read-timeout`.
pub const ENV_STATS_READ_TIMEOUT: &str = "STATS_READ_TIMEOUT";
/// `--stats-max-concurrent-reads`.
pub const ENV_STATS_MAX_CONCURRENT_READS: &str = "STATS_MAX_CONCURRENT_READS";
/// `--stats-unanswered-grace-period`.
pub const ENV_STATS_UNANSWERED_GRACE_PERIOD: &str = "STATS_UNANSWERED_GRACE_PERIOD";
/// `--webhook-bind-address`.
pub const ENV_WEBHOOK_BIND_ADDRESS: &str = "WEBHOOK_BIND_ADDRESS";
/// `--webhook-cert-mode` (one of [`CertMode`]).
pub const ENV_WEBHOOK_CERT_MODE: &str = "WEBHOOK_CERT_MODE";
/// `--webhook-cert-dir`.
pub const ENV_WEBHOOK_CERT_DIR: &str = "WEBHOOK_CERT_DIR";
/// `--webhook-service-name`.
pub const ENV_WEBHOOK_SERVICE_NAME: &str = "WEBHOOK_SERVICE_NAME";
/// `--webhook-secret-name`.
pub const ENV_WEBHOOK_SECRET_NAME: &str = "WEBHOOK_SECRET_NAME";
/// `--webhook-extra-sans`.
pub const ENV_WEBHOOK_EXTRA_SANS: &str = "WEBHOOK_EXTRA_SANS";
/// `--webhook-ca-validity`.
pub const ENV_WEBHOOK_CA_VALIDITY: &str = "WEBHOOK_CA_VALIDITY";
/// `--webhook-cert-validity`.
pub const ENV_WEBHOOK_CERT_VALIDITY: &str = "WEBHOOK_CERT_VALIDITY";
/// `--webhook-shutdown-delay`.
pub const ENV_WEBHOOK_SHUTDOWN_DELAY: &str = "WEBHOOK_SHUTDOWN_DELAY";
/// The pod's name (downward API): the leader-election identity.
pub const ENV_POD_NAME: &str = "POD_NAME";
/// The pod's namespace (downward API): where the lease and the webhook Secret live.
pub const ENV_POD_NAMESPACE: &str = "POD_NAMESPACE";

/// /healthz and /readyz.
pub const HEALTH_PORT: u16 = 8081;
/// /metrics (Prometheus).
pub const METRICS_PORT: u16 = 8080;
/// The conversion webhook (HTTPS).
pub const WEBHOOK_PORT: u16 = 9443;

/// Liveness: the process serves requests.
pub const HEALTHZ_PATH: &str = "/healthz";
/// Readiness: caches synced (or standing by for the lease) and webhook certificates loaded.
pub const READYZ_PATH: &str = "/readyz";
/// The operator's Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";
/// The conversion webhook.
pub const CONVERT_PATH: &str = "/convert";
/// Where certificates are read in directory mode: where OLM mounts them, and
/// controller-runtime's default.
pub const CERT_DIR: &str = "/tmp/k8s-webhook-server/serving-certs";

/// `port` on every interface.
pub const fn bind_address(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

/// Where the webhook's serving certificate comes from (`WEBHOOK_CERT_MODE`); see
/// [`CertMode::help`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertMode {
    Directory,
    SelfManaged,
    Disabled,
}

impl CertMode {
    /// The value of `WEBHOOK_CERT_MODE`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CertMode::Directory => "directory",
            CertMode::SelfManaged => "self-managed",
            CertMode::Disabled => "disabled",
        }
    }

    /// What the mode does, as `run --help` shows it.
    pub const fn help(self) -> &'static str {
        match self {
            CertMode::Directory => {
                "tls.crt and tls.key from --webhook-cert-dir, reloaded when they change (OLM, cert-manager, or a Secret mounted by hand)"
            }
            CertMode::SelfManaged => {
                "the operator makes and rotates its own CA and certificate, keeps them in a Secret and injects the CA into the CRD (the Helm default)"
            }
            CertMode::Disabled => "no webhook server (only for clusters that never serve v1)",
        }
    }
}

impl clap::ValueEnum for CertMode {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            CertMode::Directory,
            CertMode::SelfManaged,
            CertMode::Disabled,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

// Log line format (`LOG_FORMAT`); also the chart's `logFormat` value. (A plain comment: a doc
// comment would become a description in the chart's values schema.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

impl LogFormat {
    /// The value of `LOG_FORMAT`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl clap::ValueEnum for LogFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[LogFormat::Json, LogFormat::Text]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// Parses `90`, `90s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let invalid = || format!("{text:?} is not a duration such as 90s, 2m or 1h");
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(invalid)?,
        "h" => n.checked_mul(3600).ok_or_else(invalid)?,
        _ => return Err(invalid()),
    };
    Ok(Duration::from_secs(secs))
}

/// A duration (as [`parse_duration`]) that is not zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(duration)
}

/// A requests-per-second figure: a finite number, 0 or more.
pub fn parse_rate(text: &str) -> Result<f32, String> {
    match text.trim().parse::<f32>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a rate such as 0, 5 or 20.5")),
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_positive_duration("0s").is_err());
    }

    #[test]
    fn rates_are_finite_and_not_negative() {
        assert_eq!(parse_rate("0"), Ok(0.0));
        assert_eq!(parse_rate(" 20.5 "), Ok(20.5));
        for bad in ["-1", "inf", "NaN", "fast", ""] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_parse_from_the_names_they_are_written_with() {
        for mode in CertMode::value_variants() {
            assert_eq!(CertMode::from_str(mode.as_str(), false), Ok(*mode));
        }
        for format in LogFormat::value_variants() {
            assert_eq!(LogFormat::from_str(format.as_str(), false), Ok(*format));
        }
    }

    #[test]
    fn bind_addresses_listen_everywhere() {
        assert_eq!(bind_address(HEALTH_PORT).to_string(), "0.0.0.0:8081");
    }
}
