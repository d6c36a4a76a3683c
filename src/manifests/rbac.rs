//! The operator's permissions, defined once: the Helm chart, `config/` and the CSV render these.
//!
//! Least privilege: what the controller, leader election and the self-managed webhook
//! certificates need, and nothing else. No cluster-wide Secret access and no CRD creation.

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::api::names::{CRD_NAME, GROUP, PLURAL, SCHEDULE_PLURAL};

/// One rule with the reason it exists (rendered as a comment in generated files and docs).
#[derive(Clone, Debug)]
pub struct Rule {
    pub why: &'static str,
    /// When the operator needs it; a distribution that never meets the condition leaves it out.
    pub when: When,
    pub rule: PolicyRule,
}

/// The deployment choice a rule depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Leader election is on.
    LeaderElection,
    /// The webhook certificates are self-managed: the operator keeps its CA in a Secret and
    /// injects it into the CRD. Under OLM, cert-manager or a user Secret it does neither.
    SelfManagedCertificates,
    /// The operator reads Locust masters through the API server's service proxy
    /// (`--stats-access=apiserver-proxy`) instead of directly.
    StatsThroughApiServer,
}

/// What a distribution decided about the conditions of [`When`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choices {
    pub leader_election: bool,
    pub self_managed_certificates: bool,
    pub stats_through_api_server: bool,
}

impl When {
    pub fn holds(self, choices: Choices) -> bool {
        match self {
            When::Always => true,
            When::LeaderElection => choices.leader_election,
            When::SelfManagedCertificates => choices.self_managed_certificates,
            When::StatsThroughApiServer => choices.stats_through_api_server,
        }
    }
}

/// Which kind of role a rule set becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Rules over the namespaces where LocustTests live: a ClusterRole, or a Role in the watched
    /// namespace when the operator watches one namespace.
    Watched,
    /// Cluster-scoped resources: always a ClusterRole.
    Cluster,
    /// The operator's own namespace: always a Role.
    OwnNamespace,
}

/// A named set of rules: one ClusterRole or Role (and its binding) per distribution.
#[derive(Clone, Debug)]
pub struct RoleSet {
    /// Appended to the operator's name to name the role and its binding.
    pub suffix: &'static str,
    pub scope: Scope,
    pub rules: Vec<Rule>,
}

impl RoleSet {
    /// The rules that hold under `choices`.
    pub fn rules_for(&self, choices: Choices) -> Vec<Rule> {
        self.rules
            .iter()
            .filter(|r| r.when.holds(choices))
            .cloned()
            .collect()
    }

    /// The rules that hold under `choices`, reasons stripped.
    pub fn policy_rules(&self, choices: Choices) -> Vec<PolicyRule> {
        self.rules
            .iter()
            .filter(|r| r.when.holds(choices))
            .map(|r| r.rule.clone())
            .collect()
    }
}

/// Every role the operator needs, in the order distributions render them.
pub fn role_sets() -> Vec<RoleSet> {
    vec![
        RoleSet {
            suffix: "",
            scope: Scope::Watched,
            rules: controller_rules(),
        },
        RoleSet {
            suffix: "-crd",
            scope: Scope::Cluster,
            rules: cluster_rules(),
        },
        RoleSet {
            suffix: "-own-namespace",
            scope: Scope::OwnNamespace,
            rules: own_namespace_rules(),
        },
    ]
}

fn rule(
    why: &'static str,
    when: When,
    groups: &[&str],
    resources: &[&str],
    names: &[&str],
    verbs: &[&str],
) -> Rule {
    let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Rule {
        why,
        when,
        rule: PolicyRule {
            api_groups: Some(list(groups)),
            resources: Some(list(resources)),
            resource_names: (!names.is_empty()).then(|| list(names)),
            verbs: list(verbs),
            non_resource_urls: None,
        },
    }
}

/// Rules over the namespaces where LocustTests live (a ClusterRole, or a Role per watched
/// namespace).
pub fn controller_rules() -> Vec<Rule> {
    let status = format!("{PLURAL}/status");
    let schedule_status = format!("{SCHEDULE_PLURAL}/status");
    vec![
        rule(
            "watch LocustTests",
            When::Always,
            &[GROUP],
            &[PLURAL],
            &[],
            &["get", "list", "watch"],
        ),
        rule(
            "remove the Go operator's finalizer locust.io/cleanup from the tests it created, so deleting them does not hang (a merge patch of metadata.finalizers; the spec stays immutable)",
            When::Always,
            &[GROUP],
            &[PLURAL],
            &[],
            &["patch"],
        ),
        rule(
            "report phase, conditions and results",
            When::Always,
            &[GROUP],
            &[status.as_str()],
            &[],
            &["get", "patch", "update"],
        ),
        rule(
            "watch LocustTestSchedules",
            When::Always,
            &[GROUP],
            &[SCHEDULE_PLURAL],
            &[],
            &["get", "list", "watch"],
        ),
        rule(
            "report a schedule's runs, next time and conditions",
            When::Always,
            &[GROUP],
            &[schedule_status.as_str()],
            &[],
            &["get", "patch", "update"],
        ),
        rule(
            "start a schedule's runs (LocustTests it owns), delete the active run under concurrencyPolicy Replace and the finished runs beyond the history limits",
            When::Always,
            &[GROUP],
            &[PLURAL],
            &[],
            &["create", "delete"],
        ),
        rule(
            "create the master and worker Jobs, label those the Go operator made (adoption), and watch them",
            When::Always,
            &["batch"],
            &["jobs"],
            &[],
            &["get", "list", "watch", "create", "patch"],
        ),
        rule(
            "create the master Service, label the one the Go operator made (adoption), and watch it",
            When::Always,
            &[""],
            &["services"],
            &[],
            &["get", "list", "watch", "create", "patch"],
        ),
        rule(
            "create the Ingress that exposes a test's web UI when spec.master.webUI.ingress asks for one (owned by the test), and read it after a 409 to tell whose the name is",
            When::Always,
            &["networking.k8s.io"],
            &["ingresses"],
            &[],
            &["get", "create"],
        ),
        rule(
            "create the Gateway API HTTPRoute that exposes a test's web UI when spec.master.webUI.httpRoute asks for one (owned by the test), and read it after a 409 to tell whose the name is",
            When::Always,
            &["gateway.networking.k8s.io"],
            &["httproutes"],
            &[],
            &["get", "create"],
        ),
        rule(
            "store the report of a finished test in a ConfigMap owned by the test (server-side apply)",
            When::Always,
            &[""],
            &["configmaps"],
            &[],
            &["create", "patch"],
        ),
        rule(
            "check that the ConfigMaps a test references (test files, library, env, volumes) exist before creating its Jobs, so a missing one is named at once instead of leaving pods in ContainerCreating (read-only: get by name; Secrets are not read)",
            When::Always,
            &[""],
            &["configmaps"],
            &[],
            &["get"],
        ),
        rule(
            "read the Locust master's live stats, result and report through the API server's service proxy",
            When::StatsThroughApiServer,
            &[""],
            &["services/proxy"],
            &[],
            &["get"],
        ),
        rule(
            "watch the Locust pods to diagnose failures",
            When::Always,
            &[""],
            &["pods"],
            &[],
            &["get", "list", "watch"],
        ),
        rule(
            "record events on LocustTests and LocustTestSchedules",
            When::Always,
            &["events.k8s.io"],
            &["events"],
            &[],
            &["create", "patch"],
        ),
    ]
}

/// Cluster-scoped rules (always a ClusterRole).
pub fn cluster_rules() -> Vec<Rule> {
    vec![rule(
        "inject the self-managed webhook CA into the LocustTest CRD's conversion caBundle, and watch that CRD so a re-applied CRD without it gets it back at once",
        When::SelfManagedCertificates,
        &["apiextensions.k8s.io"],
        &["customresourcedefinitions"],
        &[CRD_NAME],
        // A merge patch of spec.conversion.webhook.clientConfig.caBundle: no update needed.
        // list and watch are authorized against the name through a metadata.name selector.
        &["get", "patch", "list", "watch"],
    )]
}

/// Rules in the operator's own namespace (a Role).
pub fn own_namespace_rules() -> Vec<Rule> {
    vec![
        rule(
            "leader election",
            When::LeaderElection,
            &["coordination.k8s.io"],
            &["leases"],
            &[],
            &["get", "create", "update"],
        ),
        rule(
            "self-managed webhook certificates: one Secret shared by the replicas",
            When::SelfManagedCertificates,
            &[""],
            &["secrets"],
            &[],
            &["get", "create", "update", "watch", "list"],
        ),
    ]
}

/// Strips the reasons.
pub fn policy_rules(rules: Vec<Rule>) -> Vec<PolicyRule> {
    rules.into_iter().map(|r| r.rule).collect()
}
