//! The ClusterServiceVersion: identity and catalog text from [`release`], the Deployment from
//! [`crate::manifests::deployment`] (directory certificate mode: OLM mounts the certificates),
//! the permissions from [`crate::manifests::rbac`], the conversion webhook, the descriptors and
//! the v2 and schedule samples as `alm-examples`.

use serde_json::{Value, json};

use crate::api::names::{
    CRD_NAME, GROUP, KIND, PLURAL, SCHEDULE_CRD_NAME, SCHEDULE_KIND, SCHEDULE_VERSION,
};
use crate::manifests::deployment::{
    CONVERT_PATH, Certificates, OperatorDeployment, WEBHOOK_PORT, WEBHOOK_SERVICE_PORT, Watch,
    distribution_config_env,
};
use crate::manifests::rbac::{Choices, Scope, role_sets};
use crate::manifests::release::{self, PACKAGE};
use crate::manifests::yaml::RenderError;
use crate::manifests::{SAMPLE_LOCUSTFILE, sample_schedule, sample_v2};

use super::descriptors::{spec_descriptors, status_descriptors};
use super::schedule_descriptors::{schedule_spec_descriptors, schedule_status_descriptors};

/// Categories from OLM's allowed list.
pub const CATEGORIES: &str = "Developer Tools,Integration & Delivery";
/// OLM capability level: installs and upgrades through OLM; no operand upgrades or autopilot.
pub const CAPABILITIES: &str = "Basic Install";
/// `spec.maturity`: the first releases of this operator.
pub const MATURITY: &str = "alpha";
/// The CRD version the CSV advertises (v1 stays served and converted, but is deprecated).
pub const OWNED_VERSION: &str = "v2";

/// What the OpenShift console filters on. Each claim is deliberate:
/// - disconnected: false. The CSV refers to images by tag, not digest, so mirroring with an
///   ImageDigestMirrorSet does not apply.
/// - fips-compliant: false. TLS is rustls with the ring provider, not a FIPS-validated module.
/// - proxy-aware: false. The operator only talks to the API server, but it does not pass the
///   cluster proxy settings on to Locust pods (tests set HTTP(S)_PROXY in spec.env).
/// - tls-profiles: false. The webhook does not follow the cluster's TLS security profile.
/// - token-auth-*: false. No cloud credentials are used.
/// - cnf, cni, csi: false. Not a network function, network plugin or storage driver.
pub const FEATURES: [(&str, &str); 10] = [
    ("disconnected", "false"),
    ("fips-compliant", "false"),
    ("proxy-aware", "false"),
    ("tls-profiles", "false"),
    ("token-auth-aws", "false"),
    ("token-auth-azure", "false"),
    ("token-auth-gcp", "false"),
    ("cnf", "false"),
    ("cni", "false"),
    ("csi", "false"),
];

/// The tile text (OperatorHub shows about 135 characters).
pub const SHORT_DESCRIPTION: &str = "Runs distributed Locust load tests: one LocustTest becomes a master and workers, followed to the end with results in status.";

/// The operator as the CSV deploys it.
pub fn operator() -> OperatorDeployment {
    OperatorDeployment {
        name: PACKAGE.to_string(),
        namespace: None,
        image: release::operator_image(),
        service_account: PACKAGE.to_string(),
        certificates: Certificates::FromOlm,
        watch: Watch::OlmTargetNamespaces,
        config_env: distribution_config_env(),
    }
}

/// What the operator needs under OLM: leader election on; OLM provides the certificates, so
/// neither the certificate Secret nor CRD patching is granted.
pub const CHOICES: Choices = Choices {
    leader_election: true,
    self_managed_certificates: false,
    stats_through_api_server: false,
};

/// The markdown description on the operator's OperatorHub page.
pub fn description() -> String {
    format!(
        r#"The Locust Operator runs distributed [Locust](https://locust.io) load tests on Kubernetes.

You describe a test in a `LocustTest`: the Locust image, the master and worker command lines, how many workers, and the ConfigMap holding your locustfile. The operator creates a master Job, a worker Job and a master Service, waits for the workers to connect, follows the test to its end and reports it in `status`: phase (`Pending`, `Running`, `Succeeded`, `Failed`), conditions, connected workers, and the final request count, failure ratio, throughput and response time.

### Features
* **Validation in the API server**: CEL rules in the CRD refuse a bad test at `kubectl apply`, with a message naming the field.
* **Metrics**: a Prometheus exporter sidecar on the master, or OpenTelemetry export (`spec.observability.openTelemetry`).
* **Resilient workers**: a worker lost to a node drain is replaced; a lost master fails the test with a reason.
* **Secure defaults**: seccomp `RuntimeDefault`, no privilege escalation, all capabilities dropped; `spec.security` passes the `restricted` Pod Security Standard.
* **Drop-in successor** of the Go `locust-k8s-operator` 2.3.0: same `locust.io` API group and `v2` schema; `v1` is still served and converted by the operator's webhook.

### A first test
Put a locustfile in a ConfigMap:

```sh
cat > locustfile.py <<'EOF'
{SAMPLE_LOCUSTFILE}EOF
kubectl create configmap demo-locustfile --from-file=locustfile.py
```

Then create the `LocustTest` shown as the example on this page (2 workers, 20 users for 2 minutes against https://example.com) and follow it with `kubectl get locusttest demo -w`. The Locust web UI is at `kubectl port-forward job/demo-master 8089`.

### Installation notes
The operator watches all namespaces (the conversion webhook requires the AllNamespaces install mode). OLM provides the webhook's certificates. Locust pods need nothing from the operator's namespace.

### Links
* [Documentation]({docs})
* [Install with OLM]({olm})
* [Source code]({repo})
"#,
        docs = release::readme_url(),
        olm = release::docs_url("install-olm.md"),
        repo = release::REPOSITORY,
    )
}

fn owned_crd() -> Value {
    json!({
        "name": CRD_NAME,
        "version": OWNED_VERSION,
        "kind": KIND,
        "displayName": "Locust Test",
        "description": "A distributed Locust load test: a master, workers, and the results in status.",
        "resources": [
            { "kind": "Job", "name": "jobs", "version": "v1" },
            { "kind": "Service", "name": "services", "version": "v1" },
            { "kind": "Pod", "name": "pods", "version": "v1" },
            // Also keeps the suite's removed-API check from mistaking the events.k8s.io/v1 rule
            // below for the v1beta1 Event API removed in 1.25: it skips resources listed here.
            { "kind": "Event", "name": "events", "version": "v1" },
        ],
        "specDescriptors": spec_descriptors(),
        "statusDescriptors": status_descriptors(),
    })
}

fn owned_schedule_crd() -> Value {
    json!({
        "name": SCHEDULE_CRD_NAME,
        "version": SCHEDULE_VERSION,
        "kind": SCHEDULE_KIND,
        "displayName": "Locust Test Schedule",
        "description": "LocustTests run on a cron schedule, with a history of runs.",
        "resources": [
            { "kind": KIND, "name": PLURAL, "version": OWNED_VERSION },
        ],
        "specDescriptors": schedule_spec_descriptors(),
        "statusDescriptors": schedule_status_descriptors(),
    })
}

fn permissions(scope_is_cluster: bool) -> Vec<Value> {
    role_sets()
        .into_iter()
        .filter(|set| (set.scope != Scope::OwnNamespace) == scope_is_cluster)
        .flat_map(|set| set.policy_rules(CHOICES))
        .map(|rule| serde_json::to_value(rule).unwrap_or(Value::Null))
        .collect::<Vec<_>>()
}

/// The ClusterServiceVersion.
pub fn csv() -> Result<Value, RenderError> {
    let operator = operator();
    let examples = serde_json::to_string_pretty(&[
        serde_json::to_value(sample_v2())?,
        serde_json::to_value(sample_schedule())?,
    ])?;
    let mut annotations = serde_json::Map::new();
    for (key, value) in [
        ("alm-examples", examples),
        ("capabilities", CAPABILITIES.to_string()),
        ("categories", CATEGORIES.to_string()),
        ("containerImage", release::operator_image()),
        ("createdAt", release::RELEASE_DATE.to_string()),
        ("description", SHORT_DESCRIPTION.to_string()),
        ("repository", release::REPOSITORY.to_string()),
        ("support", release::PROVIDER.to_string()),
        (
            "operatorframework.io/suggested-namespace",
            release::NAMESPACE.to_string(),
        ),
    ] {
        annotations.insert(key.to_string(), Value::String(value));
    }
    for (feature, value) in FEATURES {
        annotations.insert(
            format!("features.operators.openshift.io/{feature}"),
            Value::String(value.to_string()),
        );
    }
    let mut labels = serde_json::Map::new();
    for arch in release::ARCHITECTURES {
        labels.insert(
            format!("operatorframework.io/arch.{arch}"),
            json!("supported"),
        );
    }
    labels.insert(
        "operatorframework.io/os.linux".to_string(),
        json!("supported"),
    );

    let service_account = PACKAGE;
    let cluster_rules = permissions(true);
    let namespace_rules = permissions(false);
    let mut install = json!({
        "deployments": [{
            "name": operator.name,
            "label": operator.labels(),
            "spec": serde_json::to_value(operator.deployment_spec())?,
        }],
    });
    if !cluster_rules.is_empty() {
        install["clusterPermissions"] =
            json!([{ "serviceAccountName": service_account, "rules": cluster_rules }]);
    }
    if !namespace_rules.is_empty() {
        install["permissions"] =
            json!([{ "serviceAccountName": service_account, "rules": namespace_rules }]);
    }

    Ok(json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "ClusterServiceVersion",
        "metadata": {
            "name": release::csv_name(),
            "namespace": "placeholder",
            "annotations": annotations,
            "labels": labels,
        },
        "spec": {
            "displayName": release::DISPLAY_NAME,
            "description": description(),
            "version": release::VERSION,
            "minKubeVersion": release::MIN_KUBE_VERSION,
            "maturity": MATURITY,
            "icon": [{
                "base64data": release::base64(release::ICON_SVG.as_bytes()),
                "mediatype": "image/svg+xml",
            }],
            "keywords": release::KEYWORDS,
            "links": [
                { "name": "Documentation", "url": release::readme_url() },
                { "name": "Install with OLM", "url": release::docs_url("install-olm.md") },
                { "name": "Source Code", "url": release::REPOSITORY },
            ],
            "maintainers": release::MAINTAINERS.iter().map(|(name, email)| json!({ "name": name, "email": email })).collect::<Vec<_>>(),
            "provider": { "name": release::PROVIDER, "url": release::REPOSITORY },
            "installModes": [
                { "type": "OwnNamespace", "supported": false },
                { "type": "SingleNamespace", "supported": false },
                { "type": "MultiNamespace", "supported": false },
                { "type": "AllNamespaces", "supported": true },
            ],
            "install": { "strategy": "deployment", "spec": install },
            "customresourcedefinitions": { "owned": [owned_crd(), owned_schedule_crd()] },
            "webhookdefinitions": [{
                "type": "ConversionWebhook",
                "generateName": format!("c{PLURAL}.{GROUP}"),
                "deploymentName": operator.name,
                "containerPort": WEBHOOK_SERVICE_PORT,
                "targetPort": WEBHOOK_PORT,
                "webhookPath": CONVERT_PATH,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Fail",
                "conversionCRDs": [CRD_NAME],
            }],
            "relatedImages": related_images(),
        },
    }))
}

/// Every image the operator runs or starts (Locust's image is chosen per test).
pub fn related_images() -> Value {
    json!([
        { "name": PACKAGE, "image": release::operator_image() },
        { "name": "locust-exporter", "image": release::exporter_image() },
    ])
}

/// The name OLM gives the webhook Service it creates: `<deployment>-service`.
pub fn olm_webhook_service() -> String {
    format!("{}-service", PACKAGE.replace('.', "-"))
}
