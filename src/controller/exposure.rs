//! Exposing the web UI: creates the Ingress and HTTPRoute a test asks for
//! (`spec.master.webUI.ingress`, `.httpRoute`) and says how it went in the WebUIExposed
//! condition.
//!
//! They are created once, with the other children: while WebUIExposed is True, or False for a
//! reason retrying cannot change (the cluster has no HTTPRoute API, the API server refused the
//! object, someone else's object has the name), nothing is sent. So a test that asks for a
//! route costs one or two creates, and one whose cluster lacks Gateway API costs one 404, not
//! one per reconcile. Like the other children, a route is never updated (the spec is
//! immutable); unlike them, one deleted by hand is not recreated.

use k8s_openapi::api::networking::v1::Ingress;
use kube::api::PostParams;
use kube::core::DynamicObject;
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::debug;

use super::adoption::{self, Claim};
use super::conditions::{EventNote, condition, reason};
use super::{Context, Error};
use crate::api::names::FIELD_MANAGER;
use crate::api::v2::{LocustTest, LocustTestStatus};
use crate::resources::web_route::{http_route_resource, web_routes};

/// How exposing the web UI went: the WebUIExposed condition to set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    pub exposed: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What happened to one route object.
enum Made {
    /// Created now, or found as this test's.
    Exists { created: bool },
    /// Not there, for `reason`; `message` says why and what to do.
    Missing {
        reason: &'static str,
        message: String,
    },
}

/// Creates the routes `test` asks for, unless an earlier round settled them. `None` when the
/// test asks for none or nothing is to be done; the event announces a change, so there is none
/// when the condition already says the same (a wait for a previous route, tried again).
pub async fn expose(
    test: &LocustTest,
    ctx: &Context,
    namespace: &str,
    old: &LocustTestStatus,
) -> Result<Option<(Exposure, Option<EventNote>)>, Error> {
    if settled(old) {
        return Ok(None);
    }
    let routes = match web_routes(test) {
        Ok(routes) if routes.is_empty() => return Ok(None),
        Ok(routes) => routes,
        Err(error) => {
            let message = format!("the web UI routes cannot be built: {error}");
            let (exposure, event) = outcome(false, reason::ROUTE_REJECTED, message);
            return Ok(Some((exposure, Some(event))));
        }
    };
    let mut made = Vec::new();
    if let Some(ingress) = &routes.ingress {
        ctx.may_write()?;
        let api = Api::<Ingress>::namespaced(ctx.client.clone(), namespace);
        let step = create_once(test, &api, ingress, "Ingress").await?;
        made.push(("Ingress", ingress.name_any(), step));
    }
    if let Some(route) = &routes.http_route {
        ctx.may_write()?;
        let api = Api::<DynamicObject>::namespaced_with(
            ctx.client.clone(),
            namespace,
            &http_route_resource(),
        );
        let step = create_once(test, &api, route, "HTTPRoute").await?;
        made.push(("HTTPRoute", route.name_any(), step));
    }
    let (exposure, event) = summarize(&made);
    let news = !already_said(old, &exposure);
    Ok(Some((exposure, news.then_some(event))))
}

/// Whether the WebUIExposed condition already says what `exposure` says.
fn already_said(old: &LocustTestStatus, exposure: &Exposure) -> bool {
    old.conditions.iter().flatten().any(|c| {
        c.type_ == condition::WEB_UI_EXPOSED
            && c.reason == exposure.reason
            && c.message == exposure.message
    })
}

/// Whether an earlier round settled the routes: they exist, or retrying cannot help.
fn settled(old: &LocustTestStatus) -> bool {
    old.conditions.iter().flatten().any(|c| {
        c.type_ == condition::WEB_UI_EXPOSED
            && (c.status == "True" || c.reason != reason::WAITING_FOR_PREVIOUS_ROUTE)
    })
}

/// The condition and event for what was made.
fn summarize(made: &[(&str, String, Made)]) -> (Exposure, EventNote) {
    let mut exists = Vec::new();
    let mut missing = Vec::new();
    let mut first_reason = None;
    for (kind, name, step) in made {
        match step {
            Made::Exists { created } => {
                let how = if *created { "created" } else { "exists" };
                exists.push(format!("{kind} {name} {how}"));
            }
            Made::Missing { reason, message } => {
                first_reason.get_or_insert(*reason);
                missing.push(message.clone());
            }
        }
    }
    match first_reason {
        None => outcome(true, reason::WEB_UI_EXPOSED, exists.join("; ")),
        Some(code) => {
            let message = missing.into_iter().chain(exists).collect::<Vec<_>>();
            outcome(false, code, message.join("; "))
        }
    }
}

fn outcome(exposed: bool, code: &'static str, message: String) -> (Exposure, EventNote) {
    let event = EventNote {
        warning: !exposed,
        reason: code,
        message: message.clone(),
    };
    (
        Exposure {
            exposed,
            reason: code,
            message,
        },
        event,
    )
}

/// Creates one route object. A 409 is answered with one GET, to tell whose the name is.
async fn create_once<K>(
    test: &LocustTest,
    api: &Api<K>,
    object: &K,
    kind: &str,
) -> Result<Made, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = object.name_any();
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PostParams::default()
    };
    match api.create(&params, object).await {
        Ok(_) => {
            debug!(%kind, %name, "created");
            return Ok(Made::Exists { created: true });
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return Ok(Made::Missing {
                reason: reason::ROUTE_API_MISSING,
                message: format!(
                    "the cluster does not serve {kind} (the API server answered 404 to the create: {}); install the Gateway API CRDs (standard channel) or remove the field from spec.master.webUI",
                    status.message
                ),
            });
        }
        Err(kube::Error::Api(status)) if status.code == 422 || status.code == 400 => {
            return Ok(Made::Missing {
                reason: reason::ROUTE_REJECTED,
                message: format!(
                    "the API server refused the {kind} {name}: {}",
                    status.message
                ),
            });
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(error) => return Err(error.into()),
    }
    let Some(existing) = api.get_opt(&name).await? else {
        return Ok(waiting(kind, &name));
    };
    Ok(match adoption::claim(existing.owner_references(), test) {
        Claim::This => Made::Exists { created: false },
        Claim::Previous => waiting(kind, &name),
        Claim::Foreign => Made::Missing {
            reason: reason::ROUTE_NAME_CONFLICT,
            message: format!(
                "a {kind} {name} already exists in namespace {} and does not belong to this test; delete it or rename the LocustTest",
                test.namespace().unwrap_or_default()
            ),
        },
    })
}

fn waiting(kind: &str, name: &str) -> Made {
    Made::Missing {
        reason: reason::WAITING_FOR_PREVIOUS_ROUTE,
        message: format!(
            "the {kind} {name} of a deleted test of the same name still exists; waiting for its garbage collection"
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn status_with(status: &str, reason_code: &str) -> LocustTestStatus {
        LocustTestStatus {
            conditions: Some(vec![Condition {
                type_: condition::WEB_UI_EXPOSED.to_string(),
                status: status.to_string(),
                reason: reason_code.to_string(),
                message: String::new(),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
                observed_generation: None,
            }]),
            ..LocustTestStatus::default()
        }
    }

    #[test]
    fn a_wait_already_reported_is_not_announced_again() {
        let (exposure, _) = summarize(&[(
            "Ingress",
            "t-master".to_string(),
            waiting("Ingress", "t-master"),
        )]);
        let mut old = status_with("False", reason::WAITING_FOR_PREVIOUS_ROUTE);
        assert!(!already_said(&old, &exposure), "another message");
        if let Some(condition) = old.conditions.as_mut().and_then(|c| c.first_mut()) {
            condition.message = exposure.message.clone();
        }
        assert!(already_said(&old, &exposure));
        assert!(!already_said(&LocustTestStatus::default(), &exposure));
    }

    #[test]
    fn only_a_wait_for_a_previous_route_is_tried_again() {
        assert!(!settled(&LocustTestStatus::default()));
        assert!(settled(&status_with("True", reason::WEB_UI_EXPOSED)));
        assert!(settled(&status_with("False", reason::ROUTE_API_MISSING)));
        assert!(settled(&status_with("False", reason::ROUTE_REJECTED)));
        assert!(settled(&status_with("False", reason::ROUTE_NAME_CONFLICT)));
        assert!(!settled(&status_with(
            "False",
            reason::WAITING_FOR_PREVIOUS_ROUTE
        )));
    }

    #[test]
    fn one_missing_route_makes_the_condition_false_and_names_both() {
        let made = [
            (
                "Ingress",
                "t-master".to_string(),
                Made::Exists { created: true },
            ),
            (
                "HTTPRoute",
                "t-master".to_string(),
                Made::Missing {
                    reason: reason::ROUTE_API_MISSING,
                    message: "no HTTPRoute".to_string(),
                },
            ),
        ];
        let (exposure, event) = summarize(&made);
        assert!(!exposure.exposed);
        assert_eq!(exposure.reason, reason::ROUTE_API_MISSING);
        assert_eq!(exposure.message, "no HTTPRoute; Ingress t-master created");
        assert!(event.warning);

        let (exposure, event) = summarize(&made[..1]);
        assert!(exposure.exposed);
        assert_eq!(exposure.reason, reason::WEB_UI_EXPOSED);
        assert_eq!(exposure.message, "Ingress t-master created");
        assert!(!event.warning);
    }
}
