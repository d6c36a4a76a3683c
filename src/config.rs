//! Operator configuration: how Locust pods are built, read once from the environment at start-up.
//!
//! The variable names are the Go operator's, so existing Helm values and manifests map over.
//! A bad value stops start-up with an error naming the variable.
//!
//! Every value is trimmed. An unset or blank variable means "not configured here": the next
//! level decides (role-specific -> unified -> built-in), as in the Go operator, whose Helm chart
//! renders unset values as empty strings. The literal `none` (any case) switches a value off
//! explicitly, for example `WORKER_POD_CPU_LIMIT=none` (no CPU limit on workers: CPU limits
//! throttle load generators). See `docs/configuration.md`.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;
use std::fmt;

use crate::api::names::{
    DEFAULT_EXPORTER_PORT, MASTER_BIND_PORT, MASTER_SECONDARY_PORT, Role, WEB_PORT,
};
use crate::api::quantity::QuantityValue;
use crate::api::v2::PullPolicy;

/// One operator-level resource value.
#[derive(Clone, Debug, PartialEq)]
pub enum QuantitySetting {
    /// Not configured at this level: the next level decides (role -> unified -> built-in).
    Inherit,
    /// This quantity.
    Set(Quantity),
    /// Explicitly no value (the variable was set to `none`): for example no CPU limit, since CPU
    /// limits throttle load generators.
    Off,
}

/// The six resource values of a container: a request and a limit for each [`ResourceKind`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSettings {
    /// Indexed by [`Bound::index`], then [`ResourceKind::index`].
    values: [[QuantitySetting; 3]; 2],
}

impl ResourceSettings {
    /// Every value inherited.
    pub fn inherit() -> Self {
        Self::uniform(QuantitySetting::Inherit)
    }

    /// The same setting for all six values.
    pub fn uniform(setting: QuantitySetting) -> Self {
        Self {
            values: std::array::from_fn(|_| std::array::from_fn(|_| setting.clone())),
        }
    }

    /// Fixed values, as `(cpu, memory, ephemeral)` requests and limits.
    pub fn fixed(requests: [&str; 3], limits: [&str; 3]) -> Self {
        let q = |s: &str| QuantitySetting::Set(Quantity(s.to_string()));
        Self {
            values: [requests.map(q), limits.map(q)],
        }
    }

    /// These settings with `kind`'s `bound` set to `setting`.
    pub fn with(mut self, kind: ResourceKind, bound: Bound, setting: QuantitySetting) -> Self {
        *self.get_mut(kind, bound) = setting;
        self
    }

    /// The setting of `kind`'s `bound`.
    pub fn get(&self, kind: ResourceKind, bound: Bound) -> &QuantitySetting {
        &self.values[bound.index()][kind.index()]
    }

    fn get_mut(&mut self, kind: ResourceKind, bound: Bound) -> &mut QuantitySetting {
        &mut self.values[bound.index()][kind.index()]
    }
}

/// The Prometheus exporter sidecar of the master pod.
#[derive(Clone, Debug, PartialEq)]
pub struct ExporterConfig {
    pub image: String,
    pub port: i32,
    pub pull_policy: PullPolicy,
    pub resources: ResourceSettings,
}

/// Operator configuration for building Locust pods.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `POD_*`: applies to both roles unless a role-specific value is set.
    pub pod_resources: ResourceSettings,
    /// `MASTER_POD_*`.
    pub master_resources: ResourceSettings,
    /// `WORKER_POD_*`.
    pub worker_resources: ResourceSettings,
    /// `METRICS_EXPORTER_*`.
    pub exporter: ExporterConfig,
    /// `JOB_TTL_SECONDS_AFTER_FINISHED`: delete finished Jobs after this many seconds.
    pub job_ttl_seconds_after_finished: Option<i32>,
    /// `ENABLE_AFFINITY_CR_INJECTION`: allow `spec.scheduling.affinity`.
    pub affinity_injection: bool,
    /// `ENABLE_TAINT_TOLERATIONS_CR_INJECTION`: allow `spec.scheduling.tolerations`.
    pub tolerations_injection: bool,
    /// `DEFAULT_RUNTIME_CLASS_NAME`: runtime class for tests that do not set one.
    pub default_runtime_class_name: Option<String>,
}

/// Built-in Locust pod resources (the Go operator's defaults).
pub const DEFAULT_POD_REQUESTS: [&str; 3] = ["250m", "128Mi", "30M"];
pub const DEFAULT_POD_LIMITS: [&str; 3] = ["1000m", "1024Mi", "50M"];
/// Built-in exporter resources (the Go operator chart's values).
pub const DEFAULT_EXPORTER_REQUESTS: [&str; 3] = ["100m", "64Mi", "30M"];
pub const DEFAULT_EXPORTER_LIMITS: [&str; 3] = ["250m", "128Mi", "50M"];
pub const DEFAULT_EXPORTER_IMAGE: &str = "containersol/locust_exporter:v0.5.0";

impl Default for Config {
    fn default() -> Self {
        Self {
            pod_resources: ResourceSettings::fixed(DEFAULT_POD_REQUESTS, DEFAULT_POD_LIMITS),
            master_resources: ResourceSettings::inherit(),
            worker_resources: ResourceSettings::inherit(),
            exporter: ExporterConfig {
                image: DEFAULT_EXPORTER_IMAGE.to_string(),
                port: DEFAULT_EXPORTER_PORT,
                pull_policy: PullPolicy::IfNotPresent,
                resources: ResourceSettings::fixed(
                    DEFAULT_EXPORTER_REQUESTS,
                    DEFAULT_EXPORTER_LIMITS,
                ),
            },
            job_ttl_seconds_after_finished: None,
            affinity_injection: false,
            tolerations_injection: false,
            default_runtime_class_name: None,
        }
    }
}

impl Config {
    /// Resources of the Locust container of `role` when the test does not set its own:
    /// per value, the role-specific setting, else the unified one; `Off` leaves the value out.
    pub fn locust_resources(&self, role: Role) -> ResourceRequirements {
        let specific = match role {
            Role::Master => &self.master_resources,
            Role::Worker => &self.worker_resources,
        };
        resolve(&[specific, &self.pod_resources])
    }

    /// Resources of the exporter sidecar.
    pub fn exporter_resources(&self) -> ResourceRequirements {
        resolve(&[&self.exporter.resources])
    }
}

fn resolve(levels: &[&ResourceSettings]) -> ResourceRequirements {
    let pick = |kind: ResourceKind, bound: Bound| {
        levels
            .iter()
            .map(|l| l.get(kind, bound))
            .find(|s| **s != QuantitySetting::Inherit)
            .and_then(|s| match s {
                QuantitySetting::Set(q) => Some(q.clone()),
                _ => None,
            })
    };
    let map = |bound: Bound| {
        let m: BTreeMap<String, Quantity> = ResourceKind::ALL
            .into_iter()
            .filter_map(|kind| Some((kind.resource_name().to_string(), pick(kind, bound)?)))
            .collect();
        (!m.is_empty()).then_some(m)
    };
    ResourceRequirements {
        requests: map(Bound::Request),
        limits: map(Bound::Limit),
        ..Default::default()
    }
}

// Variable names. The resource variables are `<prefix><CPU|MEM|EPHEMERAL>_<REQUEST|LIMIT>`.

/// Prefix of the unified Locust pod resource variables, e.g. `POD_CPU_LIMIT`.
pub const POD_PREFIX: &str = "POD_";
/// Prefix of the master-only resource variables, e.g. `MASTER_POD_CPU_LIMIT`.
pub const MASTER_POD_PREFIX: &str = "MASTER_POD_";
/// Prefix of the worker-only resource variables, e.g. `WORKER_POD_CPU_LIMIT`.
pub const WORKER_POD_PREFIX: &str = "WORKER_POD_";
/// Prefix of the exporter sidecar's resource variables, e.g. `METRICS_EXPORTER_CPU_LIMIT`.
pub const EXPORTER_PREFIX: &str = "METRICS_EXPORTER_";
pub const EXPORTER_IMAGE_VAR: &str = "METRICS_EXPORTER_IMAGE";
pub const EXPORTER_PORT_VAR: &str = "METRICS_EXPORTER_PORT";
pub const EXPORTER_PULL_POLICY_VAR: &str = "METRICS_EXPORTER_IMAGE_PULL_POLICY";
pub const JOB_TTL_VAR: &str = "JOB_TTL_SECONDS_AFTER_FINISHED";
pub const AFFINITY_INJECTION_VAR: &str = "ENABLE_AFFINITY_CR_INJECTION";
pub const TOLERATIONS_INJECTION_VAR: &str = "ENABLE_TAINT_TOLERATIONS_CR_INJECTION";
pub const DEFAULT_RUNTIME_CLASS_VAR: &str = "DEFAULT_RUNTIME_CLASS_NAME";
/// The Go operator's Kafka variables: no longer read, reported by [`Config::ignored_variables`].
pub const KAFKA_VARIABLES: [&str; 7] = [
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_ENABLED",
    "KAFKA_SECURITY_PROTOCOL_CONFIG",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_JAAS_CONFIG",
    "KAFKA_USERNAME",
    "KAFKA_PASSWORD",
];
/// The value that switches a setting off (compared case-insensitively).
pub const OFF: &str = "none";

/// A resource of a container, as named in the variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Cpu,
    Memory,
    EphemeralStorage,
}

/// Request or limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Request,
    Limit,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 3] = [Self::Cpu, Self::Memory, Self::EphemeralStorage];

    /// Position in [`ResourceSettings`].
    const fn index(self) -> usize {
        match self {
            Self::Cpu => 0,
            Self::Memory => 1,
            Self::EphemeralStorage => 2,
        }
    }

    /// The middle part of the variable name: `CPU`, `MEM` or `EPHEMERAL`.
    pub fn variable_part(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Memory => "MEM",
            Self::EphemeralStorage => "EPHEMERAL",
        }
    }

    /// The Kubernetes resource name: `cpu`, `memory` or `ephemeral-storage`.
    pub fn resource_name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::EphemeralStorage => "ephemeral-storage",
        }
    }
}

impl Bound {
    pub const ALL: [Bound; 2] = [Self::Request, Self::Limit];

    /// Position in [`ResourceSettings`].
    const fn index(self) -> usize {
        match self {
            Self::Request => 0,
            Self::Limit => 1,
        }
    }

    fn variable_part(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Limit => "LIMIT",
        }
    }
}

/// The variable holding `kind`'s `bound` at the level named by `prefix`, e.g.
/// `resource_variable(WORKER_POD_PREFIX, ResourceKind::Cpu, Bound::Limit)` is `WORKER_POD_CPU_LIMIT`.
pub fn resource_variable(prefix: &str, kind: ResourceKind, bound: Bound) -> String {
    format!("{prefix}{}_{}", kind.variable_part(), bound.variable_part())
}

/// A configuration value the operator refuses to start with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "invalid {variable}={value:?}: not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi) or \"none\""
    )]
    Quantity { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: a resource quantity cannot be negative (examples: 500m, 2, 512Mi, 1Gi) or \"none\""
    )]
    NegativeQuantity { variable: String, value: String },

    #[error(
        "conflicting {request_variable}={request:?}{} and {limit_variable}={limit:?}{}: the {resource} request would exceed its limit; lower the request, raise the limit, or set the limit to \"none\"",
        default_note(.request_is_default),
        default_note(.limit_is_default)
    )]
    RequestExceedsLimit {
        resource: &'static str,
        request_variable: String,
        request: String,
        request_is_default: bool,
        limit_variable: String,
        limit: String,
        limit_is_default: bool,
    },

    #[error("invalid {variable}={value:?}: expected a port number from 1 to 65535")]
    Port { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: port {value} is already used by the master pod or its Service ({used_by}); choose another port"
    )]
    PortInUse {
        variable: String,
        value: String,
        used_by: &'static str,
    },

    #[error("invalid {variable}={value:?}: expected Always, IfNotPresent or Never")]
    PullPolicy { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: expected a container image reference such as containersol/locust_exporter:v0.5.0 (the exporter cannot be switched off here; it does not run for tests with OpenTelemetry enabled)"
    )]
    Image { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: expected true or false (accepted: 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False)"
    )]
    Boolean { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: expected a whole number of seconds from 0 to 2147483647, or \"none\" for no TTL"
    )]
    Ttl { variable: String, value: String },

    #[error(
        "invalid {variable}={value:?}: expected a RuntimeClass name (a DNS-1123 subdomain: at most 253 characters, lower-case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit) or \"none\""
    )]
    RuntimeClassName { variable: String, value: String },
}

fn default_note(is_default: &bool) -> &'static str {
    if *is_default {
        " (built-in default)"
    } else {
        ""
    }
}

impl ConfigError {
    /// The variable at fault (for a request/limit conflict, the request's).
    pub fn variable(&self) -> &str {
        match self {
            Self::Quantity { variable, .. }
            | Self::NegativeQuantity { variable, .. }
            | Self::Port { variable, .. }
            | Self::PortInUse { variable, .. }
            | Self::PullPolicy { variable, .. }
            | Self::Image { variable, .. }
            | Self::Boolean { variable, .. }
            | Self::Ttl { variable, .. }
            | Self::RuntimeClassName { variable, .. } => variable,
            Self::RequestExceedsLimit {
                request_variable, ..
            } => request_variable,
        }
    }
}

/// A variable of the Go operator that this operator no longer reads; worth a warning at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredVariable {
    pub name: &'static str,
    pub reason: &'static str,
}

impl fmt::Display for IgnoredVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is set but ignored: {}", self.name, self.reason)
    }
}

const KAFKA_IGNORED_REASON: &str = "the operator no longer injects Kafka settings into Locust pods; \
     set them per test in spec.env.variables (credentials through spec.env.secretRefs)";

impl Config {
    /// Reads the configuration from the process environment. See [`Config::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(process_env)
    }

    /// Reads the configuration through `lookup` (a variable name to its value, `None` when
    /// unset), validates every value and checks that no request exceeds its limit once the
    /// levels are resolved. Returns the first problem found.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let defaults = Self::default();
        let config = Self {
            pod_resources: env.resources(POD_PREFIX, &defaults.pod_resources)?,
            master_resources: env.resources(MASTER_POD_PREFIX, &ResourceSettings::inherit())?,
            worker_resources: env.resources(WORKER_POD_PREFIX, &ResourceSettings::inherit())?,
            exporter: ExporterConfig {
                image: env
                    .image(EXPORTER_IMAGE_VAR)?
                    .unwrap_or(defaults.exporter.image),
                port: env
                    .port(EXPORTER_PORT_VAR)?
                    .unwrap_or(defaults.exporter.port),
                pull_policy: env
                    .pull_policy(EXPORTER_PULL_POLICY_VAR)?
                    .unwrap_or(defaults.exporter.pull_policy),
                resources: env.resources(EXPORTER_PREFIX, &defaults.exporter.resources)?,
            },
            job_ttl_seconds_after_finished: env.ttl(JOB_TTL_VAR)?,
            affinity_injection: env
                .boolean(AFFINITY_INJECTION_VAR)?
                .unwrap_or(defaults.affinity_injection),
            tolerations_injection: env
                .boolean(TOLERATIONS_INJECTION_VAR)?
                .unwrap_or(defaults.tolerations_injection),
            default_runtime_class_name: env.runtime_class_name(DEFAULT_RUNTIME_CLASS_VAR)?,
        };
        config.check_requests_within_limits(&|variable| env.get(variable).is_none())?;
        Ok(config)
    }

    /// The Go operator's variables that are set (non-blank) but no longer read.
    pub fn ignored_variables(lookup: impl Fn(&str) -> Option<String>) -> Vec<IgnoredVariable> {
        let env = Env(&lookup);
        KAFKA_VARIABLES
            .into_iter()
            .filter(|name| env.get(name).is_some())
            .map(|name| IgnoredVariable {
                name,
                reason: KAFKA_IGNORED_REASON,
            })
            .collect()
    }

    /// [`Config::ignored_variables`] of the process environment.
    pub fn ignored_variables_in_env() -> Vec<IgnoredVariable> {
        Self::ignored_variables(process_env)
    }

    /// Every variable the operator reads, in documentation order.
    pub fn variable_names() -> Vec<String> {
        let resources = |prefix| {
            Bound::ALL.into_iter().flat_map(move |bound| {
                ResourceKind::ALL
                    .into_iter()
                    .map(move |kind| resource_variable(prefix, kind, bound))
            })
        };
        let mut names: Vec<String> = [POD_PREFIX, MASTER_POD_PREFIX, WORKER_POD_PREFIX]
            .into_iter()
            .flat_map(resources)
            .collect();
        names.extend(
            [
                EXPORTER_IMAGE_VAR,
                EXPORTER_PORT_VAR,
                EXPORTER_PULL_POLICY_VAR,
            ]
            .map(String::from),
        );
        names.extend(resources(EXPORTER_PREFIX));
        names.extend(
            [
                JOB_TTL_VAR,
                AFFINITY_INJECTION_VAR,
                TOLERATIONS_INJECTION_VAR,
                DEFAULT_RUNTIME_CLASS_VAR,
            ]
            .map(String::from),
        );
        names
    }

    /// Every container's request must not exceed its limit once levels are resolved, or the
    /// API server would refuse every pod. `is_default` tells whether a variable was left unset.
    fn check_requests_within_limits(
        &self,
        is_default: &dyn Fn(&str) -> bool,
    ) -> Result<(), ConfigError> {
        let containers: [&[(&ResourceSettings, &str)]; 3] = [
            &[
                (&self.master_resources, MASTER_POD_PREFIX),
                (&self.pod_resources, POD_PREFIX),
            ],
            &[
                (&self.worker_resources, WORKER_POD_PREFIX),
                (&self.pod_resources, POD_PREFIX),
            ],
            &[(&self.exporter.resources, EXPORTER_PREFIX)],
        ];
        for levels in containers {
            for kind in ResourceKind::ALL {
                let (Some((request, request_variable)), Some((limit, limit_variable))) = (
                    resolve_with_variable(levels, kind, Bound::Request),
                    resolve_with_variable(levels, kind, Bound::Limit),
                ) else {
                    continue;
                };
                let value_of = |quantity: &Quantity, variable: &str| {
                    QuantityValue::of(quantity).map_err(|_| ConfigError::Quantity {
                        variable: variable.to_string(),
                        value: quantity.0.clone(),
                    })
                };
                if value_of(request, &request_variable)? > value_of(limit, &limit_variable)? {
                    return Err(ConfigError::RequestExceedsLimit {
                        resource: kind.resource_name(),
                        request_is_default: is_default(&request_variable),
                        request_variable,
                        request: request.0.clone(),
                        limit_is_default: is_default(&limit_variable),
                        limit_variable,
                        limit: limit.0.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The value in force for `kind`'s `bound` and the variable it comes from.
fn resolve_with_variable<'a>(
    levels: &[(&'a ResourceSettings, &str)],
    kind: ResourceKind,
    bound: Bound,
) -> Option<(&'a Quantity, String)> {
    levels
        .iter()
        .find(|(settings, _)| *settings.get(kind, bound) != QuantitySetting::Inherit)
        .and_then(|(settings, prefix)| match settings.get(kind, bound) {
            QuantitySetting::Set(quantity) => {
                Some((quantity, resource_variable(prefix, kind, bound)))
            }
            QuantitySetting::Inherit | QuantitySetting::Off => None,
        })
}

fn process_env(variable: &str) -> Option<String> {
    // Not-UTF-8 values become U+FFFD and then fail validation, naming the variable.
    std::env::var_os(variable).map(|value| value.to_string_lossy().into_owned())
}

fn is_off(value: &str) -> bool {
    value.eq_ignore_ascii_case(OFF)
}

/// The ports of the master pod and its Service that the exporter must not take.
const MASTER_PORTS: [(i32, &str); 3] = [
    (MASTER_BIND_PORT, "Locust master bind port"),
    (
        MASTER_SECONDARY_PORT,
        "Service port kept from the Go operator",
    ),
    (WEB_PORT, "Locust web UI"),
];

/// Typed readers over a variable lookup. Each returns `Ok(None)` for an unset or blank variable.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The trimmed value of `variable`; `None` when unset or blank.
    fn get(&self, variable: &str) -> Option<String> {
        (self.0)(variable)
            .map(|value| value.trim().to_string())
            .filter(|value| !value.is_empty())
    }

    /// The six values at the level named by `prefix`; unset ones keep `fallback`'s.
    fn resources(
        &self,
        prefix: &str,
        fallback: &ResourceSettings,
    ) -> Result<ResourceSettings, ConfigError> {
        let mut settings = fallback.clone();
        for bound in Bound::ALL {
            for kind in ResourceKind::ALL {
                let variable = resource_variable(prefix, kind, bound);
                if let Some(value) = self.get(&variable) {
                    *settings.get_mut(kind, bound) = quantity_setting(variable, value)?;
                }
            }
        }
        Ok(settings)
    }

    fn image(&self, variable: &str) -> Result<Option<String>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        // Image references are ASCII without spaces; the API server refuses anything else.
        if is_off(&value) || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Image {
                variable: variable.to_string(),
                value,
            });
        }
        Ok(Some(value))
    }

    fn port(&self, variable: &str) -> Result<Option<i32>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        let Some(port) = value
            .parse::<i32>()
            .ok()
            .filter(|port| (1..=65535).contains(port))
        else {
            return Err(ConfigError::Port {
                variable: variable.to_string(),
                value,
            });
        };
        if let Some((_, used_by)) = MASTER_PORTS.iter().find(|(taken, _)| *taken == port) {
            return Err(ConfigError::PortInUse {
                variable: variable.to_string(),
                value,
                used_by,
            });
        }
        Ok(Some(port))
    }

    fn pull_policy(&self, variable: &str) -> Result<Option<PullPolicy>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        let policy = match value.as_str() {
            "Always" => PullPolicy::Always,
            "IfNotPresent" => PullPolicy::IfNotPresent,
            "Never" => PullPolicy::Never,
            _ => {
                return Err(ConfigError::PullPolicy {
                    variable: variable.to_string(),
                    value,
                });
            }
        };
        Ok(Some(policy))
    }

    /// Exactly what Go's `strconv.ParseBool` accepts.
    fn boolean(&self, variable: &str) -> Result<Option<bool>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        match value.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Some(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Some(false)),
            _ => Err(ConfigError::Boolean {
                variable: variable.to_string(),
                value,
            }),
        }
    }

    fn ttl(&self, variable: &str) -> Result<Option<i32>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        if is_off(&value) {
            return Ok(None);
        }
        match value.parse::<i32>() {
            Ok(seconds) if seconds >= 0 => Ok(Some(seconds)),
            _ => Err(ConfigError::Ttl {
                variable: variable.to_string(),
                value,
            }),
        }
    }

    fn runtime_class_name(&self, variable: &str) -> Result<Option<String>, ConfigError> {
        let Some(value) = self.get(variable) else {
            return Ok(None);
        };
        if is_off(&value) {
            return Ok(None);
        }
        if !is_dns1123_subdomain(&value) {
            return Err(ConfigError::RuntimeClassName {
                variable: variable.to_string(),
                value,
            });
        }
        Ok(Some(value))
    }
}

fn quantity_setting(variable: String, value: String) -> Result<QuantitySetting, ConfigError> {
    if is_off(&value) {
        return Ok(QuantitySetting::Off);
    }
    match QuantityValue::parse(&value) {
        Ok(parsed) if parsed.is_negative() => {
            Err(ConfigError::NegativeQuantity { variable, value })
        }
        Ok(_) => Ok(QuantitySetting::Set(Quantity(value))),
        Err(_) => Err(ConfigError::Quantity { variable, value }),
    }
}

/// Kubernetes' `IsDNS1123Subdomain`: dot-separated parts of lower-case letters, digits and '-',
/// each starting and ending with a letter or digit, 253 characters at most.
fn is_dns1123_subdomain(name: &str) -> bool {
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    name.len() <= 253
        && name.split('.').all(|part| {
            let bytes = part.as_bytes();
            matches!((bytes.first(), bytes.last()), (Some(first), Some(last)) if alphanumeric(first) && alphanumeric(last))
                && bytes.iter().all(|b| alphanumeric(b) || *b == b'-')
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn load(variables: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: BTreeMap<String, String> = variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |name| map.get(name).cloned())
    }

    fn loaded(variables: &[(&str, &str)]) -> Config {
        load(variables).unwrap()
    }

    fn refused(variables: &[(&str, &str)]) -> ConfigError {
        load(variables).unwrap_err()
    }

    fn q(text: &str) -> QuantitySetting {
        QuantitySetting::Set(Quantity(text.to_string()))
    }

    /// `(resource -> quantity)` of the requests or limits of a resolved container.
    fn values(map: Option<BTreeMap<String, Quantity>>) -> Vec<(String, String)> {
        map.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    }

    fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_environment_gives_the_built_in_defaults() {
        let config = loaded(&[]);
        assert_eq!(config, Config::default());
        let worker = config.locust_resources(Role::Worker);
        assert_eq!(
            values(worker.requests),
            pairs(&[
                ("cpu", "250m"),
                ("ephemeral-storage", "30M"),
                ("memory", "128Mi")
            ])
        );
        assert_eq!(
            values(worker.limits),
            pairs(&[
                ("cpu", "1000m"),
                ("ephemeral-storage", "50M"),
                ("memory", "1024Mi")
            ])
        );
        assert_eq!(config.exporter.pull_policy, PullPolicy::IfNotPresent);
        assert_eq!(config.exporter.port, 9646);
        assert_eq!(config.exporter.image, "containersol/locust_exporter:v0.5.0");
    }

    #[test]
    fn every_variable_is_read() {
        let mut variables: Vec<(String, String)> = Vec::new();
        let prefixes = [
            POD_PREFIX,
            MASTER_POD_PREFIX,
            WORKER_POD_PREFIX,
            EXPORTER_PREFIX,
        ];
        // Distinct values per level, each request below its limit: 1..4 for requests, 11..14 for limits.
        for (level, prefix) in prefixes.into_iter().enumerate() {
            for kind in ResourceKind::ALL {
                variables.push((
                    resource_variable(prefix, kind, Bound::Request),
                    format!("{}Mi", level + 1),
                ));
                variables.push((
                    resource_variable(prefix, kind, Bound::Limit),
                    format!("{}Mi", level + 11),
                ));
            }
        }
        for (name, value) in [
            (EXPORTER_IMAGE_VAR, "registry.example.com/exporter:v1"),
            (EXPORTER_PORT_VAR, "9100"),
            (EXPORTER_PULL_POLICY_VAR, "Always"),
            (JOB_TTL_VAR, "3600"),
            (AFFINITY_INJECTION_VAR, "true"),
            (TOLERATIONS_INJECTION_VAR, "1"),
            (DEFAULT_RUNTIME_CLASS_VAR, "gvisor"),
        ] {
            variables.push((name.to_string(), value.to_string()));
        }
        let borrowed: Vec<(&str, &str)> = variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let config = loaded(&borrowed);

        let level = |n: u32| {
            let r = format!("{n}Mi");
            let l = format!("{}Mi", n + 10);
            ResourceSettings::fixed([&r, &r, &r], [&l, &l, &l])
        };
        assert_eq!(config.pod_resources, level(1));
        assert_eq!(config.master_resources, level(2));
        assert_eq!(config.worker_resources, level(3));
        assert_eq!(config.exporter.resources, level(4));
        assert_eq!(config.exporter.image, "registry.example.com/exporter:v1");
        assert_eq!(config.exporter.port, 9100);
        assert_eq!(config.exporter.pull_policy, PullPolicy::Always);
        assert_eq!(config.job_ttl_seconds_after_finished, Some(3600));
        assert!(config.affinity_injection);
        assert!(config.tolerations_injection);
        assert_eq!(config.default_runtime_class_name.as_deref(), Some("gvisor"));
        // Every variable of the list was exercised.
        assert_eq!(variables.len(), Config::variable_names().len());
    }

    #[test]
    fn role_specific_value_wins_over_unified_value() {
        let config = loaded(&[("POD_MEM_LIMIT", "2Gi"), ("MASTER_POD_MEM_LIMIT", "4Gi")]);
        let memory_limit = |role| {
            config.locust_resources(role).limits.unwrap()["memory"]
                .0
                .clone()
        };
        assert_eq!(memory_limit(Role::Master), "4Gi");
        assert_eq!(memory_limit(Role::Worker), "2Gi");
    }

    #[test]
    fn unified_value_wins_over_built_in_default() {
        let config = loaded(&[("POD_CPU_REQUEST", "500m")]);
        assert_eq!(
            *config.pod_resources.get(ResourceKind::Cpu, Bound::Request),
            q("500m")
        );
        assert_eq!(
            *config
                .pod_resources
                .get(ResourceKind::Memory, Bound::Request),
            q("128Mi")
        );
        for role in [Role::Master, Role::Worker] {
            assert_eq!(
                config.locust_resources(role).requests.unwrap()["cpu"].0,
                "500m"
            );
        }
    }

    #[test]
    fn blank_role_value_inherits_the_unified_value() {
        let config = loaded(&[
            ("POD_CPU_LIMIT", "2"),
            ("WORKER_POD_CPU_LIMIT", ""),
            ("MASTER_POD_CPU_LIMIT", "   "),
        ]);
        assert_eq!(config.worker_resources, ResourceSettings::inherit());
        assert_eq!(config.master_resources, ResourceSettings::inherit());
        assert_eq!(
            config.locust_resources(Role::Worker).limits.unwrap()["cpu"].0,
            "2"
        );
    }

    #[test]
    fn blank_unified_value_keeps_the_built_in_default() {
        let config = loaded(&[
            ("POD_MEM_LIMIT", ""),
            ("METRICS_EXPORTER_CPU_LIMIT", " "),
            ("METRICS_EXPORTER_IMAGE", ""),
            ("METRICS_EXPORTER_PORT", ""),
            ("METRICS_EXPORTER_IMAGE_PULL_POLICY", ""),
            ("JOB_TTL_SECONDS_AFTER_FINISHED", ""),
            ("ENABLE_AFFINITY_CR_INJECTION", ""),
            ("ENABLE_TAINT_TOLERATIONS_CR_INJECTION", ""),
            ("DEFAULT_RUNTIME_CLASS_NAME", ""),
        ]);
        assert_eq!(config, Config::default());
    }

    #[test]
    fn values_are_trimmed() {
        let config = loaded(&[
            ("POD_CPU_LIMIT", "  2\n"),
            ("METRICS_EXPORTER_PORT", " 9100 "),
            ("ENABLE_AFFINITY_CR_INJECTION", "\ttrue "),
            ("DEFAULT_RUNTIME_CLASS_NAME", " kata "),
        ]);
        assert_eq!(
            *config.pod_resources.get(ResourceKind::Cpu, Bound::Limit),
            q("2")
        );
        assert_eq!(config.exporter.port, 9100);
        assert!(config.affinity_injection);
        assert_eq!(config.default_runtime_class_name.as_deref(), Some("kata"));
    }

    #[test]
    fn unified_cpu_limit_none_removes_the_limit_for_both_roles() {
        let config = loaded(&[("POD_CPU_LIMIT", "none")]);
        assert_eq!(
            *config.pod_resources.get(ResourceKind::Cpu, Bound::Limit),
            QuantitySetting::Off
        );
        for role in [Role::Master, Role::Worker] {
            let limits = config.locust_resources(role).limits.unwrap();
            assert!(!limits.contains_key("cpu"));
            assert_eq!(limits["memory"].0, "1024Mi");
        }
    }

    #[test]
    fn worker_cpu_limit_none_removes_only_the_worker_limit() {
        let config = loaded(&[("WORKER_POD_CPU_LIMIT", "none")]);
        assert!(
            !config
                .locust_resources(Role::Worker)
                .limits
                .unwrap()
                .contains_key("cpu")
        );
        assert_eq!(
            config.locust_resources(Role::Master).limits.unwrap()["cpu"].0,
            "1000m"
        );
    }

    #[test]
    fn role_value_restores_a_limit_switched_off_at_unified_level() {
        let config = loaded(&[("POD_CPU_LIMIT", "none"), ("MASTER_POD_CPU_LIMIT", "2")]);
        assert_eq!(
            config.locust_resources(Role::Master).limits.unwrap()["cpu"].0,
            "2"
        );
        assert!(
            !config
                .locust_resources(Role::Worker)
                .limits
                .unwrap()
                .contains_key("cpu")
        );
    }

    #[test]
    fn none_is_case_insensitive() {
        for spelling in ["none", "None", "NONE", " nOnE "] {
            let config = loaded(&[("POD_EPHEMERAL_LIMIT", spelling)]);
            assert_eq!(
                *config
                    .pod_resources
                    .get(ResourceKind::EphemeralStorage, Bound::Limit),
                QuantitySetting::Off
            );
        }
    }

    #[test]
    fn none_everywhere_leaves_no_resources_at_all() {
        let mut variables = Vec::new();
        for prefix in [POD_PREFIX, EXPORTER_PREFIX] {
            for bound in Bound::ALL {
                for kind in ResourceKind::ALL {
                    variables.push(resource_variable(prefix, kind, bound));
                }
            }
        }
        let borrowed: Vec<(&str, &str)> = variables.iter().map(|v| (v.as_str(), "none")).collect();
        let config = loaded(&borrowed);
        for resources in [
            config.locust_resources(Role::Master),
            config.locust_resources(Role::Worker),
            config.exporter_resources(),
        ] {
            assert_eq!(resources, ResourceRequirements::default());
        }
    }

    #[test]
    fn exporter_resources_have_their_own_defaults_and_variables() {
        let config = loaded(&[
            ("METRICS_EXPORTER_CPU_LIMIT", "none"),
            ("METRICS_EXPORTER_MEM_REQUEST", "32Mi"),
            ("POD_MEM_REQUEST", "256Mi"),
        ]);
        let resources = config.exporter_resources();
        assert_eq!(
            values(resources.requests),
            pairs(&[
                ("cpu", "100m"),
                ("ephemeral-storage", "30M"),
                ("memory", "32Mi")
            ])
        );
        assert_eq!(
            values(resources.limits),
            pairs(&[("ephemeral-storage", "50M"), ("memory", "128Mi")])
        );
    }

    #[test]
    fn invalid_quantity_in_any_resource_variable_names_that_variable() {
        for name in Config::variable_names()
            .into_iter()
            .filter(|n| n.ends_with("_REQUEST") || n.ends_with("_LIMIT"))
        {
            for bad in ["lots", "1 Gi", "1GB", "1K", "0x10", "1e"] {
                let error = refused(&[(&name, bad)]);
                assert_eq!(
                    error,
                    ConfigError::Quantity {
                        variable: name.clone(),
                        value: bad.to_string()
                    }
                );
            }
        }
    }

    #[test]
    fn invalid_quantity_message_names_variable_value_and_what_is_expected() {
        assert_eq!(
            refused(&[("POD_CPU_LIMIT", "lots")]).to_string(),
            r#"invalid POD_CPU_LIMIT="lots": not a Kubernetes quantity (examples: 500m, 2, 512Mi, 1Gi) or "none""#
        );
    }

    #[test]
    fn negative_quantity_is_refused() {
        let error = refused(&[("WORKER_POD_MEM_REQUEST", "-1Mi")]);
        assert_eq!(
            error,
            ConfigError::NegativeQuantity {
                variable: "WORKER_POD_MEM_REQUEST".into(),
                value: "-1Mi".into()
            }
        );
        assert!(error.to_string().contains("cannot be negative"));
    }

    #[test]
    fn every_quantity_form_is_accepted() {
        for value in [
            "0", "500m", "1.5", "2", "512Mi", "1Gi", "1e3", "100k", "0.5Gi",
        ] {
            let config = loaded(&[
                ("POD_EPHEMERAL_REQUEST", value),
                ("POD_EPHEMERAL_LIMIT", "none"),
            ]);
            assert_eq!(
                *config
                    .pod_resources
                    .get(ResourceKind::EphemeralStorage, Bound::Request),
                q(value)
            );
        }
    }

    #[test]
    fn worker_request_above_the_unified_limit_names_both_variables() {
        let error = refused(&[("WORKER_POD_CPU_REQUEST", "2"), ("POD_CPU_LIMIT", "1500m")]);
        assert_eq!(
            error.to_string(),
            r#"conflicting WORKER_POD_CPU_REQUEST="2" and POD_CPU_LIMIT="1500m": the cpu request would exceed its limit; lower the request, raise the limit, or set the limit to "none""#
        );
        assert_eq!(error.variable(), "WORKER_POD_CPU_REQUEST");
    }

    #[test]
    fn unified_request_above_the_built_in_limit_says_which_value_is_a_default() {
        let error = refused(&[("POD_MEM_REQUEST", "2Gi")]);
        assert_eq!(
            error,
            ConfigError::RequestExceedsLimit {
                resource: "memory",
                request_variable: "POD_MEM_REQUEST".into(),
                request: "2Gi".into(),
                request_is_default: false,
                limit_variable: "POD_MEM_LIMIT".into(),
                limit: "1024Mi".into(),
                limit_is_default: true,
            }
        );
        assert!(
            error
                .to_string()
                .contains(r#"POD_MEM_LIMIT="1024Mi" (built-in default)"#)
        );
    }

    #[test]
    fn role_limit_below_the_built_in_request_is_refused() {
        let error = refused(&[("MASTER_POD_MEM_LIMIT", "64Mi")]);
        let ConfigError::RequestExceedsLimit {
            request_variable,
            limit_variable,
            request_is_default,
            ..
        } = error
        else {
            unreachable!("expected a conflict, got {error}");
        };
        assert_eq!(request_variable, "POD_MEM_REQUEST");
        assert!(request_is_default);
        assert_eq!(limit_variable, "MASTER_POD_MEM_LIMIT");
    }

    #[test]
    fn exporter_request_above_its_limit_is_refused() {
        let error = refused(&[("METRICS_EXPORTER_CPU_REQUEST", "300m")]);
        assert_eq!(error.variable(), "METRICS_EXPORTER_CPU_REQUEST");
        assert!(
            error
                .to_string()
                .contains(r#"METRICS_EXPORTER_CPU_LIMIT="250m""#)
        );
    }

    #[test]
    fn request_equal_to_its_limit_in_other_units_is_accepted() {
        loaded(&[("POD_CPU_REQUEST", "1"), ("POD_CPU_LIMIT", "1000m")]);
        loaded(&[("POD_MEM_REQUEST", "1Gi"), ("POD_MEM_LIMIT", "1024Mi")]);
        loaded(&[
            ("POD_EPHEMERAL_REQUEST", "1G"),
            ("POD_EPHEMERAL_LIMIT", "1e9"),
        ]);
    }

    #[test]
    fn binary_and_decimal_units_compare_exactly() {
        // 1Gi is 1073741824 bytes, more than 1G (1000000000).
        let error = refused(&[("POD_MEM_REQUEST", "1Gi"), ("POD_MEM_LIMIT", "1G")]);
        assert_eq!(error.variable(), "POD_MEM_REQUEST");
        loaded(&[("POD_MEM_REQUEST", "1G"), ("POD_MEM_LIMIT", "1Gi")]);
        loaded(&[("POD_MEM_REQUEST", "128Mi"), ("POD_MEM_LIMIT", "1024Mi")]);
        refused(&[("POD_CPU_REQUEST", "1001m"), ("POD_CPU_LIMIT", "1")]);
    }

    #[test]
    fn request_is_free_when_its_limit_is_switched_off() {
        let config = loaded(&[("POD_CPU_REQUEST", "4"), ("POD_CPU_LIMIT", "none")]);
        assert_eq!(
            *config.pod_resources.get(ResourceKind::Cpu, Bound::Request),
            q("4")
        );
        loaded(&[
            ("WORKER_POD_CPU_REQUEST", "4"),
            ("WORKER_POD_CPU_LIMIT", "none"),
        ]);
    }

    #[test]
    fn conflict_in_one_role_is_found_even_when_the_other_is_fine() {
        let error = refused(&[("POD_CPU_LIMIT", "none"), ("MASTER_POD_CPU_LIMIT", "100m")]);
        assert_eq!(error.variable(), "POD_CPU_REQUEST");
    }

    #[test]
    fn exporter_port_out_of_range_or_not_a_number_is_refused() {
        for bad in ["0", "70000", "65536", "abc", "-1", "1.5", "none", "9646x"] {
            assert_eq!(
                refused(&[("METRICS_EXPORTER_PORT", bad)]),
                ConfigError::Port {
                    variable: "METRICS_EXPORTER_PORT".into(),
                    value: bad.into()
                },
                "{bad}"
            );
        }
        assert_eq!(
            loaded(&[("METRICS_EXPORTER_PORT", "65535")]).exporter.port,
            65535
        );
        assert_eq!(loaded(&[("METRICS_EXPORTER_PORT", "1")]).exporter.port, 1);
    }

    #[test]
    fn exporter_port_taken_by_the_master_is_refused() {
        for taken in ["5557", "5558", "8089"] {
            let error = refused(&[("METRICS_EXPORTER_PORT", taken)]);
            assert!(matches!(error, ConfigError::PortInUse { .. }), "{taken}");
            assert_eq!(error.variable(), "METRICS_EXPORTER_PORT");
        }
    }

    #[test]
    fn exporter_pull_policy_accepts_exactly_the_kubernetes_values() {
        for (text, policy) in [
            ("Always", PullPolicy::Always),
            ("IfNotPresent", PullPolicy::IfNotPresent),
            ("Never", PullPolicy::Never),
        ] {
            assert_eq!(
                loaded(&[("METRICS_EXPORTER_IMAGE_PULL_POLICY", text)])
                    .exporter
                    .pull_policy,
                policy
            );
        }
        for bad in ["always", "IFNOTPRESENT", "none", "Sometimes"] {
            assert_eq!(
                refused(&[("METRICS_EXPORTER_IMAGE_PULL_POLICY", bad)]).variable(),
                "METRICS_EXPORTER_IMAGE_PULL_POLICY"
            );
        }
    }

    #[test]
    fn exporter_image_that_cannot_be_a_reference_is_refused() {
        for bad in ["none", "my image:1", "exporter:\u{fffd}"] {
            assert_eq!(
                refused(&[("METRICS_EXPORTER_IMAGE", bad)]),
                ConfigError::Image {
                    variable: "METRICS_EXPORTER_IMAGE".into(),
                    value: bad.into()
                }
            );
        }
    }

    #[test]
    fn booleans_accept_exactly_what_go_parse_bool_accepts() {
        for (text, expected) in [
            ("1", true),
            ("t", true),
            ("T", true),
            ("TRUE", true),
            ("true", true),
            ("True", true),
            ("0", false),
            ("f", false),
            ("F", false),
            ("FALSE", false),
            ("false", false),
            ("False", false),
        ] {
            let config = loaded(&[
                ("ENABLE_AFFINITY_CR_INJECTION", text),
                ("ENABLE_TAINT_TOLERATIONS_CR_INJECTION", text),
            ]);
            assert_eq!(config.affinity_injection, expected, "{text}");
            assert_eq!(config.tolerations_injection, expected, "{text}");
        }
        for variable in [AFFINITY_INJECTION_VAR, TOLERATIONS_INJECTION_VAR] {
            for bad in ["yes", "no", "on", "TrUe", "2", "none", "enabled"] {
                assert_eq!(
                    refused(&[(variable, bad)]),
                    ConfigError::Boolean {
                        variable: variable.into(),
                        value: bad.into()
                    }
                );
            }
        }
    }

    #[test]
    fn ttl_accepts_non_negative_seconds_and_none() {
        assert_eq!(
            loaded(&[(JOB_TTL_VAR, "0")]).job_ttl_seconds_after_finished,
            Some(0)
        );
        assert_eq!(
            loaded(&[(JOB_TTL_VAR, "2147483647")]).job_ttl_seconds_after_finished,
            Some(i32::MAX)
        );
        assert_eq!(
            loaded(&[(JOB_TTL_VAR, "None")]).job_ttl_seconds_after_finished,
            None
        );
    }

    #[test]
    fn ttl_negative_fractional_or_too_large_is_refused() {
        for bad in ["-1", "1.5", "abc", "1h", "2147483648"] {
            assert_eq!(
                refused(&[(JOB_TTL_VAR, bad)]),
                ConfigError::Ttl {
                    variable: JOB_TTL_VAR.into(),
                    value: bad.into()
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn runtime_class_name_must_be_a_dns_subdomain() {
        let longest = format!("{}.{}", "a".repeat(126), "b".repeat(126));
        for good in [
            "gvisor",
            "kata-qemu",
            "runsc.gvisor.dev",
            "0a",
            longest.as_str(),
        ] {
            assert_eq!(
                loaded(&[(DEFAULT_RUNTIME_CLASS_VAR, good)]).default_runtime_class_name,
                Some(good.to_string())
            );
        }
        let too_long = format!("{longest}c");
        for bad in [
            "gVisor",
            "-gvisor",
            "gvisor-",
            "a..b",
            ".a",
            "a.",
            "run_sc",
            "a b",
            too_long.as_str(),
        ] {
            assert_eq!(
                refused(&[(DEFAULT_RUNTIME_CLASS_VAR, bad)]),
                ConfigError::RuntimeClassName {
                    variable: DEFAULT_RUNTIME_CLASS_VAR.into(),
                    value: bad.into()
                },
                "{bad}"
            );
        }
        assert_eq!(
            loaded(&[(DEFAULT_RUNTIME_CLASS_VAR, "none")]).default_runtime_class_name,
            None
        );
    }

    #[test]
    fn kafka_variables_are_ignored_and_reported() {
        let variables = [
            ("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),
            ("KAFKA_PASSWORD", "secret"),
            ("KAFKA_USERNAME", ""),
        ];
        assert_eq!(loaded(&variables), Config::default());
        let lookup = |name: &str| {
            variables
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let ignored = Config::ignored_variables(lookup);
        let names: Vec<&str> = ignored.iter().map(|i| i.name).collect();
        assert_eq!(names, ["KAFKA_BOOTSTRAP_SERVERS", "KAFKA_PASSWORD"]);
        let warning = ignored[1].to_string();
        assert!(warning.starts_with("KAFKA_PASSWORD is set but ignored"));
        assert!(warning.contains("spec.env.variables"));
        assert!(!warning.contains("secret\""), "values are never echoed");
    }

    #[test]
    fn nothing_is_reported_when_no_kafka_variable_is_set() {
        assert!(Config::ignored_variables(|_| None).is_empty());
    }

    #[test]
    fn variable_names_are_the_go_operators_and_unique() {
        let names = Config::variable_names();
        assert_eq!(names.len(), 6 * 4 + 3 + 4);
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        for expected in [
            "POD_CPU_REQUEST",
            "POD_EPHEMERAL_LIMIT",
            "MASTER_POD_MEM_LIMIT",
            "WORKER_POD_EPHEMERAL_REQUEST",
            "METRICS_EXPORTER_MEM_LIMIT",
            "METRICS_EXPORTER_IMAGE_PULL_POLICY",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}");
        }
    }

    #[test]
    fn user_documentation_lists_every_variable() {
        let page = include_str!("../docs/configuration.md");
        for name in Config::variable_names() {
            assert!(
                page.contains(&format!("`{name}`")),
                "docs/configuration.md misses {name}"
            );
        }
        for name in KAFKA_VARIABLES {
            assert!(page.contains(name), "docs/configuration.md misses {name}");
        }
    }
}
