//! Errors of a reconcile. Each names itself as a metric label, so the error policy, the logs
//! and the metrics speak the same words.

/// A reconcile that could not finish; it is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),

    #[error("cannot encode the object: {0}")]
    Encode(#[from] serde_json::Error),

    #[error("the LocustTest has no metadata.{0}")]
    MissingMetadata(&'static str),

    #[error("the {0} cache closed before it synced")]
    CacheClosed(&'static str),
}

impl Error {
    /// The `reason` label of the reconcile error counter.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(status)) if status.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(status)) if status.code == 404 => "not_found",
            Error::Kube(kube::Error::Api(status)) if status.code >= 500 => "server_error",
            Error::Kube(kube::Error::Api(_)) => "api_error",
            Error::Kube(_) => "transport",
            Error::Encode(_) => "encode",
            Error::MissingMetadata(_) => "missing_metadata",
            Error::CacheClosed(_) => "cache_closed",
        }
    }
}
