//! Tests the Go operator (locust-k8s-operator 2.3.0) created, taken over in place.
//!
//! - **Finalizer.** The Go operator put `locust.io/cleanup` on every LocustTest and removed it
//!   when the test was deleted; nothing else removes it, so without this a delete hangs in
//!   Terminating. It is removed when such a test is deleted (with the Go operator's `Deleting`
//!   event) and, for a test not being deleted, on its first reconcile whatever its phase, so no
//!   later delete can hang, even with the operator stopped.
//! - **Children.** The Go operator's Jobs and Service lack `app.kubernetes.io/managed-by`, the
//!   label the narrow watches select on. A child found by name whose controller owner is the
//!   test gets the labels we would have given it (labels only, nothing else changes), and from
//!   then on is watched and followed to the end like one of ours. Its pods keep the Go labels (a
//!   Job's pod template cannot change), which is why the pod watch selects on the Go `managed-by`
//!   label and roles fall back to `performance-test-pod-name`.
//! - **Status.** A test the Go operator already finished keeps its phase: terminal tests are
//!   never reconciled again. A running one keeps its `startTime` and moves on from its phase.
//!
//! Also here: children of a *previous* test of the same name. Deleting a test and creating it
//! again (the way to change one; `kubectl replace --force`, Flux's `force: true`) leaves its
//! Jobs and Service to garbage collection for a moment; the new test waits for them to go
//! instead of taking them for its own or failing with a name conflict.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::{info, warn};

use super::{Context, Error, writes};
use crate::api::names::{GO_FINALIZER, LABEL_K8S_MANAGED_BY};
use crate::api::v2::LocustTest;

/// Event reasons of the adoption.
pub mod reason {
    /// The Go operator's event when a test carrying its finalizer is deleted.
    pub const DELETING: &str = "Deleting";
    /// Warning: the API server refuses to let the finalizer go (see `release_go_finalizer`).
    pub const FINALIZER_NOT_REMOVED: &str = "FinalizerNotRemoved";
}

/// The finalizers left once the Go operator's is removed; `None` when it is not there.
pub(crate) fn without_go_finalizer(test: &LocustTest) -> Option<Vec<String>> {
    let finalizers = test.metadata.finalizers.as_ref()?;
    finalizers.iter().any(|f| f == GO_FINALIZER).then(|| {
        finalizers
            .iter()
            .filter(|f| *f != GO_FINALIZER)
            .cloned()
            .collect()
    })
}

/// Removes the Go operator's finalizer. `Some` when the test is being deleted: then nothing
/// else is left to do (garbage collection removes the children).
pub(super) async fn release_go_finalizer(
    test: &LocustTest,
    ctx: &Context,
) -> Result<Option<Action>, Error> {
    let deleting = test.metadata.deletion_timestamp.is_some();
    let Some(rest) = without_go_finalizer(test) else {
        return Ok(None);
    };
    let namespace = test
        .namespace()
        .ok_or(Error::MissingMetadata("namespace"))?;
    let name = test.name_any();
    let api: Api<LocustTest> = Api::namespaced(ctx.client.clone(), &namespace);
    // resourceVersion makes the merge patch conditional: a finalizer added meanwhile by
    // someone else is never dropped (409, retried with the fresh list).
    let patch = json!({
        "metadata": {"resourceVersion": test.resource_version(), "finalizers": rest},
    });
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return Ok(Some(Action::await_change()));
        }
        // A test the Go operator's CRD accepted may break a rule of ours that covers the whole
        // object (a name longer than 56 characters): then the API server refuses every change
        // to it, this one included. Retrying cannot help; say so where the user looks.
        Err(kube::Error::Api(status)) if status.code == 422 => {
            warn!(test = %name, %namespace, message = %status.message, "cannot remove the Go operator's finalizer");
            if !deleting {
                return Ok(None);
            }
            let note = format!(
                "cannot remove the Go operator's finalizer {GO_FINALIZER}: the API server refuses any change to this test ({}); see docs/upgrade.md, tests the Go operator started",
                status.message
            );
            publish(
                test,
                ctx,
                EventType::Warning,
                reason::FINALIZER_NOT_REMOVED,
                note,
            )
            .await;
            return Ok(Some(Action::await_change()));
        }
        Err(error) => return Err(error.into()),
    }
    info!(test = %name, %namespace, deleting, "removed the Go operator's finalizer {GO_FINALIZER}");
    if !deleting {
        return Ok(None);
    }
    let note = format!(
        "LocustTest deleted; removed the Go operator's finalizer {GO_FINALIZER}, garbage collection removes its Service and Jobs"
    );
    publish(test, ctx, EventType::Normal, reason::DELETING, note).await;
    Ok(Some(Action::await_change()))
}

async fn publish(test: &LocustTest, ctx: &Context, type_: EventType, reason: &str, note: String) {
    let warning = type_ == EventType::Warning;
    writes::publish_event(&ctx.recorder, test, "Delete", warning, reason, &note).await;
}

/// Who a child found by name belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This test (made by this operator, or by the Go operator for this very test).
    This,
    /// A LocustTest of the same name that was deleted: garbage collection is removing it.
    Previous,
    /// Someone else's object.
    Foreign,
}

pub(crate) fn claim(owners: &[OwnerReference], test: &LocustTest) -> Claim {
    if owners
        .iter()
        .any(|o| Some(&o.uid) == test.metadata.uid.as_ref())
    {
        return Claim::This;
    }
    let previous = owners.iter().any(|o| {
        o.controller == Some(true)
            && o.kind == LocustTest::kind(&())
            && o.api_version
                .starts_with(&format!("{}/", LocustTest::group(&())))
            && Some(&o.name) == test.metadata.name.as_ref()
    });
    if previous {
        Claim::Previous
    } else {
        Claim::Foreign
    }
}

/// Whether `owners` name the test as controller.
pub(crate) fn controlled_by(owners: &[OwnerReference], test: &LocustTest) -> bool {
    owners
        .iter()
        .any(|o| o.controller == Some(true) && Some(&o.uid) == test.metadata.uid.as_ref())
}

/// The labels `desired` has that `existing` lacks or holds with another value; `None` when
/// `existing` already carries the watch label (ours, or adopted before).
pub(crate) fn missing_labels<K: Resource>(
    existing: &K,
    desired: &K,
) -> Option<std::collections::BTreeMap<String, String>> {
    if existing.labels().contains_key(LABEL_K8S_MANAGED_BY) {
        return None;
    }
    let missing: std::collections::BTreeMap<_, _> = desired
        .labels()
        .iter()
        .filter(|(k, v)| existing.labels().get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(missing)
}

/// A child that exists but is not in the cache: when the test controls it and it lacks our
/// labels (the Go operator made it), adds them so the watches see it.
pub(super) async fn adopt_child<K>(
    api: &Api<K>,
    existing: &K,
    desired: &K,
    test: &LocustTest,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    if !controlled_by(existing.owner_references(), test) {
        return Ok(());
    }
    let Some(labels) = missing_labels(existing, desired) else {
        return Ok(());
    };
    let name = existing.name_any();
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": labels}})),
    )
    .await?;
    info!(
        test = %test.name_any(),
        child = format!("{} {name}", K::kind(&())),
        "adopted a child the Go operator created: added the operator's labels"
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Service;

    fn go_test() -> LocustTest {
        let text = include_str!("../../tests/fixtures/go-operator-2.3.0/locusttest-after-run.yaml");
        serde_yaml::from_str(text).unwrap()
    }

    fn go_children() -> (Job, Job, Service) {
        let text = include_str!("../../tests/fixtures/go-operator-2.3.0/children.yaml");
        let list: serde_json::Value = serde_yaml::from_str(text).unwrap();
        let items = list["items"].as_array().unwrap();
        (
            serde_json::from_value(items[0].clone()).unwrap(),
            serde_json::from_value(items[1].clone()).unwrap(),
            serde_json::from_value(items[2].clone()).unwrap(),
        )
    }

    #[test]
    fn go_finalizer_is_removed_and_others_kept() {
        let mut test = go_test();
        assert_eq!(without_go_finalizer(&test), Some(vec![]));
        test.metadata.finalizers = Some(vec![
            "example.com/keep".to_string(),
            GO_FINALIZER.to_string(),
        ]);
        assert_eq!(
            without_go_finalizer(&test),
            Some(vec!["example.com/keep".to_string()])
        );
        test.metadata.finalizers = Some(vec!["example.com/keep".to_string()]);
        assert_eq!(without_go_finalizer(&test), None);
        test.metadata.finalizers = None;
        assert_eq!(without_go_finalizer(&test), None);
    }

    #[test]
    fn go_children_are_controlled_by_their_test_and_lack_our_labels() {
        let test = go_test();
        let built =
            crate::resources::build_children(&test, &crate::config::Config::default()).unwrap();
        let (master, worker, service) = go_children();
        for owners in [
            master.owner_references(),
            worker.owner_references(),
            service.owner_references(),
        ] {
            assert!(controlled_by(owners, &test));
        }
        let mut other = test.clone();
        other.metadata.uid = Some("another".to_string());
        assert!(!controlled_by(master.owner_references(), &other));

        // The Go Jobs already carry the Go labels: only ours are added.
        let added = missing_labels(&master, &built.master_job).unwrap();
        let keys: Vec<_> = added.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "app.kubernetes.io/component",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/managed-by",
                "app.kubernetes.io/name",
            ]
        );
        assert!(missing_labels(&worker, &built.worker_job).is_some());
        // The Go Service had no labels at all.
        assert_eq!(
            missing_labels(&service, &built.service),
            built.service.metadata.labels.clone()
        );
        // Ours (or adopted before): nothing to do.
        assert_eq!(missing_labels(&built.master_job, &built.master_job), None);
    }

    #[test]
    fn children_are_claimed_by_this_test_a_previous_one_of_its_name_or_no_one() {
        let test = go_test();
        let (master, _, _) = go_children();
        assert_eq!(claim(master.owner_references(), &test), Claim::This);
        let mut recreated = test.clone();
        recreated.metadata.uid = Some("a-new-uid".to_string());
        assert_eq!(
            claim(master.owner_references(), &recreated),
            Claim::Previous
        );
        let mut other_name = recreated.clone();
        other_name.metadata.name = Some("other".to_string());
        assert_eq!(
            claim(master.owner_references(), &other_name),
            Claim::Foreign
        );
        assert_eq!(claim(&[], &test), Claim::Foreign);
    }
}
