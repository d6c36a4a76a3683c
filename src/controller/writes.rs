//! The two writes every controller of the operator makes about its own objects: the status
//! (server-side apply of the status subresource, owned by [`FIELD_MANAGER`]) and events.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tracing::warn;

use crate::api::names::FIELD_MANAGER;
use crate::api::text::shorten;

/// The longest event note the operator writes; longer ones are cut at a character boundary
/// and end in `...`.
const NOTE_LIMIT: usize = 1000;

/// Applies `status` to the status subresource of the object `name` in `namespace`.
pub async fn apply_status<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    status: &impl Serialize,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(patch),
    )
    .await?;
    Ok(())
}

/// Publishes one event about `object`. An event that cannot be written is logged, not
/// returned: it must not fail the reconcile that reports it.
pub async fn publish_event<K>(
    recorder: &Recorder,
    object: &K,
    action: &str,
    warning: bool,
    reason: &str,
    note: &str,
) where
    K: Resource<DynamicType = ()>,
{
    let event = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.to_string(),
        note: Some(shorten(note, NOTE_LIMIT, "...")),
        action: action.to_string(),
        secondary: None,
    };
    // The event may outlive the object: it names it, it does not need it.
    if let Err(error) = recorder.publish(&event, &object.object_ref(&())).await {
        warn!(object = %object.name_any(), %error, reason, "cannot publish event");
    }
}
