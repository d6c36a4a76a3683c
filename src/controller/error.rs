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

    #[error("the LocustTestSchedule has no metadata.{0}")]
    ScheduleMetadata(&'static str),

    #[error("the {0} cache closed before it synced")]
    CacheClosed(&'static str),

    #[error("{0}; the operator stops so that it is restarted with fresh caches")]
    WatchEnded(String),

    #[error(
        "this replica's leader lease is not current (not renewed within the renew deadline); it writes nothing"
    )]
    NotLeading,
}

impl Error {
    /// The `reason` label of the reconcile error counter (one of
    /// [`crate::telemetry::RECONCILE_ERROR_REASONS`]).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(kube::Error::Api(status)) if status.code == 409 => "conflict",
            Error::Kube(kube::Error::Api(status)) if status.code == 403 => "forbidden",
            Error::Kube(kube::Error::Api(status)) if status.code == 404 => "not_found",
            Error::Kube(kube::Error::Api(status)) if status.code >= 500 => "server_error",
            Error::Kube(kube::Error::Api(_)) => "api_error",
            Error::Kube(_) => "transport",
            Error::Encode(_) => "encode",
            Error::MissingMetadata(_) | Error::ScheduleMetadata(_) => "missing_metadata",
            // Not reconcile errors: they stop the controller.
            Error::CacheClosed(_) | Error::WatchEnded(_) => "cache_closed",
            Error::NotLeading => "not_leading",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::RECONCILE_ERROR_REASONS;

    #[test]
    fn every_label_is_one_the_metrics_serve_from_the_start() {
        let api = |code: u16| {
            Error::Kube(kube::Error::Api(
                kube::core::Status::failure("x", "y")
                    .with_code(code)
                    .boxed(),
            ))
        };
        let encode = serde_json::from_str::<u8>("x").err().map(Error::Encode);
        let errors = [
            api(409),
            api(403),
            api(404),
            api(500),
            api(422),
            Error::MissingMetadata("namespace"),
            Error::ScheduleMetadata("uid"),
            Error::CacheClosed("Job"),
            Error::WatchEnded("the Pod watch ended".to_string()),
            Error::NotLeading,
        ];
        for error in errors.iter().chain(encode.iter()) {
            assert!(
                RECONCILE_ERROR_REASONS.contains(&error.metric_label()),
                "{error}"
            );
        }
    }
}
