//! The Kubernetes client of every command: from `--kubeconfig` when given, else inferred
//! (`$KUBECONFIG`, `~/.kube/config`, or the in-cluster configuration).

use std::path::{Path, PathBuf};

use kube::Client;
use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the kubeconfig: {0}")]
    Kubeconfig(#[from] KubeconfigError),
    #[error("cannot find a Kubernetes configuration: {0}")]
    InferConfig(#[from] InferConfigError),
    #[error("cannot reach the Kubernetes API: {0}")]
    Client(#[from] kube::Error),
}

/// The configuration from `kubeconfig`, or inferred.
pub async fn config(kubeconfig: Option<&Path>) -> Result<kube::Config, ClientError> {
    Ok(match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?
        }
        None => kube::Config::infer().await?,
    })
}

/// A client and the configuration's default namespace.
pub async fn client(kubeconfig: Option<&Path>) -> Result<(Client, String), ClientError> {
    let config = config(kubeconfig).await?;
    let namespace = config.default_namespace.clone();
    Ok((Client::try_from(config)?, namespace))
}

/// The test a command is about, and how to reach its cluster (`report`, `ui`).
#[derive(clap::Args, Debug, Clone)]
pub struct TestRef {
    /// Name of the LocustTest.
    pub name: String,
    /// Namespace of the test; default: the kubeconfig context's namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Kubeconfig file; default: $KUBECONFIG, ~/.kube/config or the in-cluster configuration.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

impl TestRef {
    /// A client and the test's namespace (the given one, else the configuration's default).
    pub async fn client(&self) -> Result<(Client, String), ClientError> {
        let (client, default_namespace) = client(self.kubeconfig.as_deref()).await?;
        Ok((client, self.namespace.clone().unwrap_or(default_namespace)))
    }
}
