//! The Kubernetes client of every command: from `--kubeconfig` when given, else inferred
//! (`$KUBECONFIG`, `~/.kube/config`, or the in-cluster configuration).

use std::path::Path;

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
