//! The words a status is written in: condition types, condition and event reasons, and the
//! event note. Status derivation ([`super::status`]) and the results ([`super::results`]) both
//! write them; neither owns them.

/// Condition types.
pub mod condition {
    pub const READY: &str = "Ready";
    pub const WORKERS_CONNECTED: &str = "WorkersConnected";
    pub const TEST_COMPLETED: &str = "TestCompleted";
    pub const PODS_HEALTHY: &str = "PodsHealthy";
    /// Whether the operator reads the master's figures.
    pub const STATS_AVAILABLE: &str = "StatsAvailable";
    /// Whether spec.thresholds are met (only with thresholds).
    pub const THRESHOLDS_MET: &str = "ThresholdsMet";
    /// Whether the Ingress and HTTPRoute of spec.master.webUI exist (only when asked for).
    pub const WEB_UI_EXPOSED: &str = "WebUIExposed";
}

/// Condition reasons and event reasons that are not pod diagnoses. Where one means what a
/// reason of the Go operator (2.3.0) meant, it has the Go name, so alerts, dashboards and
/// scripts written for it keep matching; finer reasons of ours keep their own names
/// (docs/upgrade.md maps them).
pub mod reason {
    /// Ready=True: the master Service, master Job and worker Job exist.
    pub const RESOURCES_CREATED: &str = "ResourcesCreated";
    /// WorkersConnected=False: fewer workers connected than expected.
    pub const WORKERS_MISSING: &str = "WorkersMissing";
    /// WorkersConnected=True, and the event announcing it.
    pub const ALL_WORKERS_CONNECTED: &str = "AllWorkersConnected";
    pub const TEST_IN_PROGRESS: &str = "TestInProgress";
    /// TestCompleted=True on success.
    pub const TEST_SUCCEEDED: &str = "TestSucceeded";
    /// Event: the children were created.
    pub const CREATED: &str = "Created";
    /// Event (Warning): a child was deleted while the test ran; it was recreated.
    pub const RESOURCE_DELETED: &str = "ResourceDeleted";
    /// Event: the test reached Running.
    pub const TEST_STARTED: &str = "TestStarted";
    /// Event: the test reached Succeeded.
    pub const TEST_COMPLETED: &str = "TestCompleted";
    /// Event (Warning): the test reached Failed; the note carries the finer reason.
    pub const TEST_FAILED: &str = "TestFailed";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const FORBIDDEN_BY_CONFIG: &str = "ForbiddenByOperatorConfig";
    pub const CHILD_REJECTED: &str = "ChildRejected";
    pub const NAME_CONFLICT: &str = "NameConflict";
    /// Ready=False: a ConfigMap the pods need does not exist yet; nothing is created until it
    /// does (references.rs).
    pub const WAITING_FOR_CONFIG_MAPS: &str = "WaitingForConfigMaps";
    // Reading the master.
    pub const MASTER_ANSWERING: &str = "MasterAnswering";
    pub const WAITING_FOR_MASTER: &str = "WaitingForMaster";
    pub const MASTER_NOT_ANSWERING: &str = "MasterNotAnswering";
    pub const FINAL_FIGURES_READ: &str = "FinalFiguresRead";
    pub const WEB_UI_DISABLED: &str = "WebUIDisabled";
    pub const WEB_UI_UNSUPPORTED: &str = "WebUIUnsupported";
    pub const STATS_READING_OFF: &str = "StatsReadingOff";
    pub const RESULT_RECORDED: &str = "ResultRecorded";
    pub const REPORT_NOT_STORED: &str = "ReportNotStored";
    // Thresholds.
    pub const THRESHOLDS_MET: &str = "ThresholdsMet";
    pub const THRESHOLDS_BREACHED: &str = "ThresholdsBreached";
    pub const THRESHOLDS_PENDING: &str = "ThresholdsPending";
    pub const THRESHOLDS_UNEVALUATED: &str = "ThresholdsUnevaluated";
    // Exposing the web UI (exposure.rs).
    /// WebUIExposed=True, and its event.
    pub const WEB_UI_EXPOSED: &str = "WebUIExposed";
    /// WebUIExposed=False: the cluster does not serve the route's API (no Gateway API CRDs).
    pub const ROUTE_API_MISSING: &str = "RouteAPIMissing";
    /// WebUIExposed=False: the API server refused the Ingress or HTTPRoute.
    pub const ROUTE_REJECTED: &str = "RouteRejected";
    /// WebUIExposed=False: the name is taken by an object that is not this test's.
    pub const ROUTE_NAME_CONFLICT: &str = "RouteNameConflict";
    /// WebUIExposed=False: the name is still taken by a deleted test's route; tried again.
    pub const WAITING_FOR_PREVIOUS_ROUTE: &str = "WaitingForPreviousRoute";
    // Schedules (Ready condition and events).
    /// Ready=True: runs start on schedule.
    pub const SCHEDULED: &str = "Scheduled";
    /// Ready=True: spec.suspend; only manual triggers start runs.
    pub const SUSPENDED: &str = "Suspended";
    /// Ready=False: the cron pattern or time zone is not valid.
    pub const INVALID_SCHEDULE: &str = "InvalidSchedule";
    /// Ready=False: the API server refused the run made from the template.
    pub const RUN_REJECTED: &str = "RunRejected";
    /// Events on a schedule.
    pub const RUN_STARTED: &str = "RunStarted";
    pub const RUN_SKIPPED: &str = "RunSkipped";
    pub const RUN_REPLACED: &str = "RunReplaced";
}

/// An event to publish about the test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventNote {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}
