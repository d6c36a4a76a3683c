//! What exposes the master's web UI outside the cluster, when the test asks for it
//! (`spec.master.webUI.ingress`, `spec.master.webUI.httpRoute`): an Ingress and a Gateway API
//! HTTPRoute named like the master Service (`<name>-master`), owned by the test, routing the
//! base path (or `/`) as a prefix to the Service's web-ui port.
//!
//! The HTTPRoute is not a k8s-openapi type (Gateway API is a set of CRDs), so it is built as a
//! [`DynamicObject`] of the v1 HTTPRoute resource.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use crate::api::names::{PORT_NAME_WEB, Role, WEB_PORT};
use crate::api::v2::{LocustTest, WebUiHttpRoute, WebUiIngress};

use super::labels::object_labels;
use super::web_ui::master_web_ui;
use super::{BuildError, Owner};

/// The Gateway API HTTPRoute resource (standard channel, v1).
pub fn http_route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// The objects that expose the web UI of `test`; empty when it asks for none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebRoutes {
    pub ingress: Option<Ingress>,
    pub http_route: Option<DynamicObject>,
}

impl WebRoutes {
    pub fn is_empty(&self) -> bool {
        self.ingress.is_none() && self.http_route.is_none()
    }
}

/// Builds the Ingress and HTTPRoute `test` asks for.
pub fn web_routes(test: &LocustTest) -> Result<WebRoutes, BuildError> {
    let Some(web_ui) = test.spec.master.web_ui.as_ref() else {
        return Ok(WebRoutes::default());
    };
    if web_ui.ingress.is_none() && web_ui.http_route.is_none() {
        return Ok(WebRoutes::default());
    }
    let owner = Owner::of(test)?;
    let path = route_path(test);
    Ok(WebRoutes {
        ingress: web_ui
            .ingress
            .as_ref()
            .map(|spec| ingress(&owner, spec, &path)),
        http_route: web_ui
            .http_route
            .as_ref()
            .map(|spec| http_route(&owner, spec, &path)),
    })
}

/// The path prefix the UI is served under: the base path the master uses (the field, a flag or
/// its variable), or `/`.
fn route_path(test: &LocustTest) -> String {
    let base = master_web_ui(&test.spec).base_path;
    if base.is_empty() {
        "/".to_string()
    } else {
        base
    }
}

fn ingress(owner: &Owner<'_>, spec: &WebUiIngress, path: &str) -> Ingress {
    let mut metadata = owner.child_metadata(Role::Master, object_labels(owner.name, Role::Master));
    metadata.annotations = spec.annotations.clone().filter(|a| !a.is_empty());
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: owner.child_name(Role::Master),
            port: Some(ServiceBackendPort {
                name: Some(PORT_NAME_WEB.to_string()),
                number: None,
            }),
        }),
        resource: None,
    };
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(path.to_string()),
                        path_type: "Prefix".to_string(),
                        backend,
                    }],
                }),
            }]),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![spec.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            default_backend: None,
        }),
        status: None,
    }
}

fn http_route(owner: &Owner<'_>, spec: &WebUiHttpRoute, path: &str) -> DynamicObject {
    let resource = http_route_resource();
    let metadata = owner.child_metadata(Role::Master, object_labels(owner.name, Role::Master));
    let parent_refs: Vec<_> = spec
        .parent_refs
        .iter()
        .map(|parent| {
            let mut reference = json!({ "name": parent.name });
            if let Some(namespace) = &parent.namespace {
                reference["namespace"] = json!(namespace);
            }
            if let Some(section) = &parent.section_name {
                reference["sectionName"] = json!(section);
            }
            reference
        })
        .collect();
    let mut route_spec = json!({
        "parentRefs": parent_refs,
        "rules": [{
            "matches": [{ "path": { "type": "PathPrefix", "value": path } }],
            "backendRefs": [{
                "name": owner.child_name(Role::Master),
                "port": WEB_PORT,
            }],
        }],
    });
    if let Some(hostnames) = spec.hostnames.as_ref().filter(|h| !h.is_empty()) {
        route_spec["hostnames"] = json!(hostnames);
    }
    let mut object = DynamicObject::new(owner.child_name(Role::Master).as_str(), &resource)
        .data(json!({ "spec": route_spec }));
    object.metadata = metadata;
    object
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::api::v2::{GatewayRef, WebUiSpec};
    use std::collections::BTreeMap;

    fn test_with(web_ui: Option<WebUiSpec>, extra_args: Option<Vec<String>>) -> LocustTest {
        let mut test: LocustTest = serde_json::from_value(json!({
            "apiVersion": "locust.io/v2",
            "kind": "LocustTest",
            "metadata": { "name": "shop", "namespace": "load", "uid": "u-1" },
            "spec": {
                "image": "locustio/locust:2.43.3",
                "master": { "command": "--locustfile /lotest/src/locustfile.py" },
                "worker": { "command": "--locustfile /lotest/src/locustfile.py", "replicas": 2 },
            },
        }))
        .unwrap();
        test.spec.master.web_ui = web_ui;
        test.spec.master.extra_args = extra_args;
        test
    }

    fn ingress_spec() -> WebUiIngress {
        WebUiIngress {
            host: "locust.example.com".to_string(),
            class_name: Some("nginx".to_string()),
            tls_secret_name: Some("locust-tls".to_string()),
            annotations: Some(BTreeMap::from([(
                "nginx.ingress.kubernetes.io/proxy-read-timeout".to_string(),
                "300".to_string(),
            )])),
        }
    }

    fn route_spec() -> WebUiHttpRoute {
        WebUiHttpRoute {
            parent_refs: vec![GatewayRef {
                name: "public".to_string(),
                namespace: Some("infra".to_string()),
                section_name: Some("https".to_string()),
            }],
            hostnames: Some(vec!["locust.example.com".to_string()]),
        }
    }

    #[test]
    fn nothing_is_built_unless_asked() {
        assert!(web_routes(&test_with(None, None)).unwrap().is_empty());
        let base_only = WebUiSpec {
            base_path: Some("/ui".to_string()),
            ..WebUiSpec::default()
        };
        assert!(
            web_routes(&test_with(Some(base_only), None))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_ingress_routes_the_base_path_to_the_web_ui_port_of_the_master_service() {
        let web_ui = WebUiSpec {
            base_path: Some("/load/shop".to_string()),
            ingress: Some(ingress_spec()),
            http_route: None,
        };
        let routes = web_routes(&test_with(Some(web_ui), None)).unwrap();
        assert!(routes.http_route.is_none());
        let ingress = serde_json::to_value(routes.ingress.unwrap()).unwrap();
        assert_eq!(
            ingress,
            json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "shop-master",
                    "namespace": "load",
                    "labels": {
                        "app.kubernetes.io/component": "master",
                        "app.kubernetes.io/instance": "shop",
                        "app.kubernetes.io/managed-by": "locust-k8s-operator",
                        "app.kubernetes.io/name": "locust",
                    },
                    "annotations": { "nginx.ingress.kubernetes.io/proxy-read-timeout": "300" },
                    "ownerReferences": [{
                        "apiVersion": "locust.io/v2",
                        "kind": "LocustTest",
                        "name": "shop",
                        "uid": "u-1",
                        "controller": true,
                    }],
                },
                "spec": {
                    "ingressClassName": "nginx",
                    "rules": [{
                        "host": "locust.example.com",
                        "http": { "paths": [{
                            "path": "/load/shop",
                            "pathType": "Prefix",
                            "backend": { "service": { "name": "shop-master", "port": { "name": "web-ui" } } },
                        }] },
                    }],
                    "tls": [{ "hosts": ["locust.example.com"], "secretName": "locust-tls" }],
                },
            })
        );
    }

    #[test]
    fn the_http_route_attaches_to_its_gateways_and_follows_a_base_path_flag() {
        let web_ui = WebUiSpec {
            base_path: None,
            ingress: None,
            http_route: Some(route_spec()),
        };
        let routes = web_routes(&test_with(
            Some(web_ui),
            Some(vec!["--web-base-path=/ui".to_string()]),
        ))
        .unwrap();
        let route = serde_json::to_value(routes.http_route.unwrap()).unwrap();
        assert_eq!(route["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(route["kind"], "HTTPRoute");
        assert_eq!(route["metadata"]["name"], "shop-master");
        assert_eq!(route["metadata"]["ownerReferences"][0]["uid"], "u-1");
        assert_eq!(
            route["spec"],
            json!({
                "parentRefs": [{ "name": "public", "namespace": "infra", "sectionName": "https" }],
                "hostnames": ["locust.example.com"],
                "rules": [{
                    "matches": [{ "path": { "type": "PathPrefix", "value": "/ui" } }],
                    "backendRefs": [{ "name": "shop-master", "port": 8089 }],
                }],
            })
        );
    }

    #[test]
    fn without_a_base_path_the_whole_host_is_routed() {
        let web_ui = WebUiSpec {
            base_path: None,
            ingress: Some(WebUiIngress {
                host: "l.example.com".to_string(),
                class_name: None,
                tls_secret_name: None,
                annotations: None,
            }),
            http_route: Some(WebUiHttpRoute {
                parent_refs: vec![GatewayRef {
                    name: "gw".to_string(),
                    namespace: None,
                    section_name: None,
                }],
                hostnames: None,
            }),
        };
        let routes = web_routes(&test_with(Some(web_ui), None)).unwrap();
        let ingress = serde_json::to_value(routes.ingress.unwrap()).unwrap();
        assert_eq!(ingress["spec"]["rules"][0]["http"]["paths"][0]["path"], "/");
        assert!(ingress["spec"].get("tls").is_none());
        assert!(ingress["spec"].get("ingressClassName").is_none());
        assert!(ingress["metadata"].get("annotations").is_none());
        let route = serde_json::to_value(routes.http_route.unwrap()).unwrap();
        assert_eq!(
            route["spec"]["rules"][0]["matches"][0]["path"]["value"],
            "/"
        );
        assert_eq!(route["spec"]["parentRefs"], json!([{ "name": "gw" }]));
        assert!(route["spec"].get("hostnames").is_none());
    }
}
