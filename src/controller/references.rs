//! The ConfigMaps a test's pods cannot start without, checked before its children exist.
//!
//! A kubelet notices a missing ConfigMap only when a pod would start, and reports a missing
//! volume only in events, so the test would sit in ContainerCreating for the whole diagnosis
//! grace period before failing with a guess. Instead, before it creates the Jobs, the operator
//! looks up every ConfigMap the pods would need (test files, library, `env.configMapRefs`,
//! `env.variables[].valueFrom.configMapKeyRef`, and the ConfigMap volumes of `spec.volumes`
//! that a mount uses) and the keys they must hold.
//!
//! Users often apply a directory (`kubectl apply -f dir/`) in which the test may come before
//! its ConfigMaps, so a missing one is waited for: the test stays `Pending` (condition `Ready`
//! False, reason `WaitingForConfigMaps`) until the diagnosis grace period after its creation
//! has passed, then fails with `ConfigurationError` naming each missing object. Nothing is
//! created meanwhile.
//!
//! Secrets are not checked here: reading them would need Secret access in every namespace the
//! operator watches, which least privilege rules out (`manifests::rbac`). A missing Secret is
//! found on the pod-status path (`ConfigurationError`, `ContainerCreationStuck`).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath, Volume};
use kube::api::Api;
use kube::{Client, ResourceExt};
use tracing::warn;

use super::conditions::{condition, reason};
use super::status::{self, Outcome};
use super::{Context, Error, diagnosis};
use crate::api::v2::{LocustTest, LocustTestSpec, LocustTestStatus, Phase};

/// The hook of the reconcile: before a test's children are first created, `Some` outcome when
/// a ConfigMap is missing (wait, or fail once the grace period is over); `None` to go on.
pub async fn gate(
    test: &LocustTest,
    ctx: &Context,
    old: &LocustTestStatus,
    now: Timestamp,
) -> Result<Option<Outcome>, Error> {
    if !before_children(old) {
        return Ok(None);
    }
    let missing = check(&ctx.client, test).await?;
    if missing.is_empty() {
        return Ok(None);
    }
    let generation = test.metadata.generation;
    let created = test.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let grace = ctx.settings.diagnosis_grace;
    let what = missing.join("; ");
    let (it, exists, is) = if missing.len() == 1 {
        ("it", "it exists", "it is")
    } else {
        ("them", "they exist", "one is")
    };
    Ok(Some(match wait_left(created, now, grace) {
        Some((_, poll)) => {
            let deadline = created
                .and_then(|c| c.checked_add(grace).ok())
                .map(|d| format!(" (at {d})"))
                .unwrap_or_default();
            status::waiting(
                old,
                generation,
                reason::WAITING_FOR_CONFIG_MAPS,
                format!(
                    "{what}: create {it} in namespace {}; the Jobs are created once {exists}, and the test fails if {is} still missing {}s after the test was created{deadline}",
                    test.namespace().unwrap_or_default(),
                    grace.as_secs()
                ),
                poll,
                now,
            )
        }
        None => status::fail(
            old,
            generation,
            diagnosis::reason::CONFIGURATION_ERROR,
            format!(
                "{what}: create {it} in namespace {} and create the LocustTest again",
                test.namespace().unwrap_or_default()
            ),
            now,
        ),
    }))
}

/// Whether the test's children have not been created yet: a new test, or one waiting here.
/// Once they exist the check is not repeated (a ConfigMap deleted while the test runs does not
/// stop it; pods already started keep what they mounted).
fn before_children(old: &LocustTestStatus) -> bool {
    match old.phase {
        None => true,
        Some(Phase::Pending) => old
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == condition::READY && c.reason == reason::WAITING_FOR_CONFIG_MAPS),
        Some(_) => false,
    }
}

/// One ConfigMap the pods need, where the spec names it, and the key it must hold, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub field: String,
    pub key: Option<String>,
}

impl Reference {
    fn new(name: &str, field: String, key: Option<&str>) -> Self {
        Self {
            name: name.to_string(),
            field,
            key: key.map(str::to_string),
        }
    }
}

/// Every ConfigMap (and key) the test's pods cannot start without, in spec order. References
/// marked `optional: true` are left out, as are volumes no mount uses (the pods do not get
/// them).
pub fn required_config_maps(spec: &LocustTestSpec) -> Vec<Reference> {
    let mut found = Vec::new();
    if let Some(files) = &spec.test_files {
        if let Some(name) = &files.config_map_ref {
            found.push(Reference::new(
                name,
                "spec.testFiles.configMapRef".into(),
                None,
            ));
        }
        if let Some(name) = &files.lib_config_map_ref {
            found.push(Reference::new(
                name,
                "spec.testFiles.libConfigMapRef".into(),
                None,
            ));
        }
    }
    if let Some(env) = &spec.env {
        for (i, source) in env.config_map_refs.iter().flatten().enumerate() {
            found.push(Reference::new(
                &source.name,
                format!("spec.env.configMapRefs[{i}]"),
                None,
            ));
        }
        for (i, variable) in env.variables.iter().flatten().enumerate() {
            let Some(key_ref) = variable
                .value_from
                .as_ref()
                .and_then(|v| v.config_map_key_ref.as_ref())
            else {
                continue;
            };
            if key_ref.optional != Some(true) {
                found.push(Reference::new(
                    &key_ref.name,
                    format!("spec.env.variables[{i}].valueFrom.configMapKeyRef"),
                    Some(&key_ref.key),
                ));
            }
        }
    }
    let mounted = |volume: &Volume| {
        spec.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == volume.name)
    };
    for (i, volume) in spec.volumes.iter().flatten().enumerate() {
        if !mounted(volume) {
            continue;
        }
        if let Some(source) = &volume.config_map
            && source.optional != Some(true)
        {
            let field = format!("spec.volumes[{i}].configMap");
            push_with_items(&mut found, &source.name, &field, source.items.as_deref());
        }
        let sources = volume.projected.as_ref().and_then(|p| p.sources.as_ref());
        for (j, projection) in sources.into_iter().flatten().enumerate() {
            if let Some(source) = &projection.config_map
                && source.optional != Some(true)
            {
                let field = format!("spec.volumes[{i}].projected.sources[{j}].configMap");
                push_with_items(&mut found, &source.name, &field, source.items.as_deref());
            }
        }
    }
    found
}

/// A ConfigMap volume: the ConfigMap, and each key its `items` select.
fn push_with_items(
    found: &mut Vec<Reference>,
    name: &str,
    field: &str,
    items: Option<&[KeyToPath]>,
) {
    found.push(Reference::new(name, field.to_string(), None));
    for (k, item) in items.into_iter().flatten().enumerate() {
        found.push(Reference::new(
            name,
            format!("{field}.items[{k}]"),
            Some(&item.key),
        ));
    }
}

/// What is missing, one line per ConfigMap or key, each with the fields that name it. `lookup`
/// says whether a ConfigMap exists (and gives it); `None` means it does not.
pub fn missing<'a>(
    references: &[Reference],
    lookup: impl Fn(&str) -> Option<&'a ConfigMap>,
) -> Vec<String> {
    // Keyed by what is missing, so a ConfigMap named twice is reported once with both fields.
    let mut absent: BTreeMap<(String, Option<String>), Vec<&str>> = BTreeMap::new();
    for reference in references {
        let entry = match lookup(&reference.name) {
            None => (reference.name.clone(), None),
            Some(config_map) => match &reference.key {
                Some(key) if !has_key(config_map, key) => {
                    (reference.name.clone(), Some(key.clone()))
                }
                _ => continue,
            },
        };
        absent.entry(entry).or_default().push(&reference.field);
    }
    absent
        .into_iter()
        .map(|((name, key), fields)| {
            let fields = fields.join(", ");
            match key {
                None => format!("ConfigMap {name:?} does not exist ({fields})"),
                Some(key) => format!("ConfigMap {name:?} has no key {key:?} ({fields})"),
            }
        })
        .collect()
}

fn has_key(config_map: &ConfigMap, key: &str) -> bool {
    config_map
        .data
        .as_ref()
        .is_some_and(|d| d.contains_key(key))
        || config_map
            .binary_data
            .as_ref()
            .is_some_and(|d| d.contains_key(key))
}

/// Looks up the test's ConfigMaps and returns what is missing (empty when all are there).
/// When the operator may not read ConfigMaps (an install that predates the rule), the check is
/// skipped with a warning and the pod-status path finds what is missing instead.
pub async fn check(client: &Client, test: &LocustTest) -> Result<Vec<String>, kube::Error> {
    let references = required_config_maps(&test.spec);
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let namespace = test.namespace().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let mut found: BTreeMap<String, Option<ConfigMap>> = BTreeMap::new();
    for reference in &references {
        if found.contains_key(&reference.name) {
            continue;
        }
        match api.get_opt(&reference.name).await {
            Ok(config_map) => {
                found.insert(reference.name.clone(), config_map);
            }
            Err(kube::Error::Api(status)) if status.code == 403 => {
                warn!(test = %test.name_any(), %namespace, message = %status.message,
                    "cannot read ConfigMaps; their existence is not checked before the pods start");
                return Ok(Vec::new());
            }
            Err(error) => return Err(error),
        }
    }
    Ok(missing(&references, |name| {
        found.get(name).and_then(Option::as_ref)
    }))
}

/// How long a test created at `created` may still wait for its ConfigMaps (`None`: no longer),
/// and when to look again meanwhile: soon at first (a directory being applied), then less often.
pub fn wait_left(
    created: Option<Timestamp>,
    now: Timestamp,
    grace: Duration,
) -> Option<(Duration, Duration)> {
    let age = created
        .and_then(|c| Duration::try_from(now.duration_since(c)).ok())
        .unwrap_or(Duration::ZERO);
    let left = grace.checked_sub(age).filter(|l| !l.is_zero())?;
    let poll = (age / 4).clamp(Duration::from_secs(1), Duration::from_secs(10));
    Some((left, poll.min(left + Duration::from_millis(100))))
}

#[cfg(test)]
#[path = "references_tests.rs"]
mod tests;
