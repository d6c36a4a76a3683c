//! Who a test acts as: kubeconfig files and clients, and less privileged identities minted
//! from ServiceAccount tokens, so a test can run the operator with exactly the RBAC we ship.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

use super::cluster::Cluster;

/// How long a minted token lives: longer than any test or sandbox session.
const TOKEN_SECONDS: i64 = 24 * 3600;

/// A kubeconfig for `server` with one user (`{"token": ...}` or client certificate paths),
/// defaulting to `namespace` when given.
pub fn write_kubeconfig(
    file: &Path,
    server: &str,
    ca_cert: &Path,
    user: &serde_json::Value,
    namespace: Option<&str>,
) -> Result<(), String> {
    let mut context = json!({ "cluster": "test", "user": "test" });
    if let Some(namespace) = namespace {
        context["namespace"] = json!(namespace);
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": "test",
            "cluster": { "server": server, "certificate-authority": ca_cert },
        }],
        "users": [{ "name": "test", "user": user }],
        "contexts": [{ "name": "test", "context": context }],
        "current-context": "test",
    });
    let text = serde_yaml::to_string(&config).map_err(|e| e.to_string())?;
    std::fs::write(file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// A client from a kubeconfig file, bound to the current tokio runtime.
pub async fn client_for(kubeconfig: &Path) -> Result<Client, String> {
    let file = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| format!("cannot read {}: {e}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("cannot load {}: {e}", kubeconfig.display()))?;
    Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))
}

/// A ServiceAccount identity: only what RBAC grants `system:serviceaccount:<ns>:<name>`.
pub struct Identity {
    /// `system:serviceaccount:<namespace>:<name>`.
    pub username: String,
    pub client: Client,
    /// Token kubeconfig, defaulting to the ServiceAccount's namespace; for kubectl, helm or
    /// the operator binary run as a separate process.
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// Creates the ServiceAccount `namespace/name` if needed and mints a token for it with the
    /// TokenRequest API. Grant it rights with Roles and bindings as any user would.
    pub async fn service_account_identity(&self, namespace: &str, name: &str) -> Identity {
        let accounts = Api::<ServiceAccount>::namespaced(self.client(), namespace);
        if accounts.get_opt(name).await.ok().flatten().is_none() {
            let account: ServiceAccount =
                serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap_or_default();
            accounts
                .create(&PostParams::default(), &account)
                .await
                .unwrap_or_else(|e| panic!("cannot create ServiceAccount {namespace}/{name}: {e}"));
        }
        let request: TokenRequest = serde_json::from_value(json!({
            "spec": { "audiences": [], "expirationSeconds": TOKEN_SECONDS },
        }))
        .unwrap_or_default();
        let token = accounts
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name} failed: {e}"))
            .status
            .map(|s| s.token)
            .unwrap_or_default();
        assert!(
            !token.is_empty(),
            "TokenRequest for {namespace}/{name} returned no token"
        );
        let dir = self.dir.join("identities");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {dir:?}: {e}"));
        let kubeconfig = dir.join(format!("{namespace}-{name}.kubeconfig"));
        write_kubeconfig(
            &kubeconfig,
            &self.server,
            &self.ca_cert,
            &json!({ "token": token }),
            Some(namespace),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let client = client_for(&kubeconfig)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Identity {
            username: format!("system:serviceaccount:{namespace}:{name}"),
            client,
            kubeconfig,
        }
    }
}
