//! Spec and status descriptors of the LocustTestSchedule in the CSV. Paths are checked against
//! the schedule's schema by a test.

use serde_json::Value;

use super::descriptors::{
    CONDITIONS, NUMBER, PHASE, SELECT_CONCURRENCY, STATUS_TEXT, SWITCH, TEXT, TIMESTAMP, descriptor,
};

/// Form fields of a schedule; the run itself is edited as YAML (template.spec).
pub fn schedule_spec_descriptors() -> Vec<Value> {
    vec![
        descriptor(
            "schedule",
            "Schedule",
            "Cron pattern of five fields or a nickname, for example 0 3 * * * or @daily",
            &[TEXT],
        ),
        descriptor(
            "timeZone",
            "Time zone",
            "IANA time zone the schedule is read in, for example Europe/Berlin; default UTC",
            &[TEXT],
        ),
        descriptor(
            "concurrencyPolicy",
            "Concurrency policy",
            "When a run is due while another is active: Forbid skips it, Replace deletes the active run, Allow runs both",
            &[
                SELECT_CONCURRENCY[0],
                SELECT_CONCURRENCY[1],
                SELECT_CONCURRENCY[2],
            ],
        ),
        descriptor("suspend", "Suspend", "Start no scheduled runs", &[SWITCH]),
        descriptor(
            "startingDeadlineSeconds",
            "Starting deadline (seconds)",
            "A run missed by more than this is skipped",
            &[NUMBER],
        ),
        descriptor(
            "successfulRunsHistoryLimit",
            "Succeeded runs kept",
            "Older succeeded runs are deleted",
            &[NUMBER],
        ),
        descriptor(
            "failedRunsHistoryLimit",
            "Failed runs kept",
            "Older failed runs are deleted",
            &[NUMBER],
        ),
    ]
}

/// What the console shows of a schedule's status.
pub fn schedule_status_descriptors() -> Vec<Value> {
    vec![
        descriptor(
            "conditions",
            "Conditions",
            "Whether the schedule is valid and starts runs",
            &[CONDITIONS],
        ),
        descriptor(
            "lastRun.name",
            "Last run",
            "The newest LocustTest of this schedule",
            &[STATUS_TEXT],
        ),
        descriptor(
            "lastRun.phase",
            "Last run phase",
            "Phase of the newest run",
            &[PHASE],
        ),
        descriptor(
            "lastSuccessfulRun",
            "Last successful run",
            "The newest run that succeeded",
            &[STATUS_TEXT],
        ),
        descriptor(
            "lastScheduleTime",
            "Last scheduled",
            "Scheduled time of the newest scheduled run",
            &[TIMESTAMP],
        ),
        descriptor(
            "nextScheduleTime",
            "Next run",
            "When the next scheduled run is due",
            &[TIMESTAMP],
        ),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::schedule_crd::schedule_crd;

    fn resolves(root: &Value, path: &str) -> bool {
        path.split('.')
            .try_fold(root, |node, key| node.get("properties")?.get(key))
            .is_some()
    }

    #[test]
    fn every_descriptor_path_exists_in_the_schedule_schema() {
        let crd = serde_json::to_value(schedule_crd().unwrap()).unwrap();
        let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        for (section, descriptors) in [
            ("spec", schedule_spec_descriptors()),
            ("status", schedule_status_descriptors()),
        ] {
            let root = &schema["properties"][section];
            for d in descriptors {
                let path = d["path"].as_str().unwrap();
                assert!(
                    resolves(root, path),
                    "{section}.{path} is not in the schema"
                );
            }
        }
    }
}
