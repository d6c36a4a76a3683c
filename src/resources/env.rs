//! Environment of the Locust containers. The Go operator's Kafka variables are not carried
//! over (by design): `env.variables` covers that use without putting secrets in the Job spec.

use k8s_openapi::api::core::v1::{ConfigMapEnvSource, EnvFromSource, EnvVar, SecretEnvSource};

use crate::api::names::{
    DEFAULT_OTLP_PROTOCOL, ENV_OTEL_ENDPOINT, ENV_OTEL_INSECURE, ENV_OTEL_METRICS_EXPORTER,
    ENV_OTEL_PROTOCOL, ENV_OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP,
};
use crate::api::v2::{LocustTestSpec, PrefixedSource};

use super::{BuildError, non_empty, open_telemetry};

/// `env` of a Locust container: the OpenTelemetry variables when enabled (then `extraEnvVars`
/// in key order), then the user's `env.variables` unchanged. The user's come last so they can
/// shadow any operator value; a shadowed variable is left out, so the container has one
/// variable per name, the value a kubelet would take (the last), and the Job stays valid for
/// server-side apply, which refuses two variables of one name.
pub(crate) fn locust_env(spec: &LocustTestSpec) -> Result<Option<Vec<EnvVar>>, BuildError> {
    let mut env = Vec::new();
    if let Some(otel) = open_telemetry(spec) {
        let endpoint = otel
            .endpoint
            .as_deref()
            .filter(|e| !e.is_empty())
            .ok_or(BuildError::MissingOtelEndpoint)?;
        let protocol = otel.protocol.unwrap_or(DEFAULT_OTLP_PROTOCOL);
        env.push(literal(ENV_OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP));
        env.push(literal(ENV_OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP));
        env.push(literal(ENV_OTEL_ENDPOINT, endpoint));
        env.push(literal(ENV_OTEL_PROTOCOL, protocol.as_str()));
        if otel.insecure == Some(true) {
            env.push(literal(ENV_OTEL_INSECURE, "true"));
        }
        // A BTreeMap iterates in key order.
        env.extend(
            otel.extra_env_vars
                .iter()
                .flatten()
                .map(|(k, v)| literal(k, v)),
        );
    }
    if let Some(variables) = spec.env.as_ref().and_then(|e| e.variables.as_ref()) {
        env.extend(variables.iter().cloned());
    }
    Ok(non_empty(last_of_each_name(env)))
}

/// Keeps only the last variable of each name, in the order of those last ones.
fn last_of_each_name(env: Vec<EnvVar>) -> Vec<EnvVar> {
    let mut kept: Vec<EnvVar> = Vec::with_capacity(env.len());
    for (i, variable) in env.iter().enumerate() {
        if !env[i + 1..].iter().any(|later| later.name == variable.name) {
            kept.push(variable.clone());
        }
    }
    kept
}

/// `envFrom` of a Locust container: `env.configMapRefs`, then `env.secretRefs`, each with its
/// prefix.
pub(crate) fn locust_env_from(spec: &LocustTestSpec) -> Option<Vec<EnvFromSource>> {
    let env = spec.env.as_ref()?;
    let config_maps = env.config_map_refs.iter().flatten().map(|s| EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: s.name.clone(),
            optional: None,
        }),
        prefix: prefix(s),
        secret_ref: None,
    });
    let secrets = env.secret_refs.iter().flatten().map(|s| EnvFromSource {
        config_map_ref: None,
        prefix: prefix(s),
        secret_ref: Some(SecretEnvSource {
            name: s.name.clone(),
            optional: None,
        }),
    });
    non_empty(config_maps.chain(secrets).collect())
}

fn prefix(source: &PrefixedSource) -> Option<String> {
    source.prefix.clone().filter(|p| !p.is_empty())
}

pub(crate) fn literal(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        value_from: None,
    }
}
