//! Sample LocustTests shipped in `config/samples/` and the OLM `alm-examples`.

use crate::api::schedule::{LocustTestSchedule, LocustTestScheduleSpec, RunTemplate};
use crate::api::{v1, v2};

/// The locustfile of the samples, as the first-test instructions show it.
pub const SAMPLE_LOCUSTFILE: &str = r#"from locust import HttpUser, task

class Visitor(HttpUser):
    @task
    def home(self):
        self.client.get("/")
"#;

/// Image used by samples and documentation.
pub const SAMPLE_LOCUST_IMAGE: &str = "locustio/locust:2.43.3";

/// A v2 test: 2 workers running the locustfile from the `demo-locustfile` ConfigMap.
pub fn sample_v2() -> v2::LocustTest {
    let spec = v2::LocustTestSpec {
        image: SAMPLE_LOCUST_IMAGE.to_string(),
        image_pull_policy: None,
        image_pull_secrets: None,
        master: v2::MasterSpec {
            command: "--locustfile /lotest/src/locustfile.py --host https://example.com --users 20 --spawn-rate 5 --run-time 2m".to_string(),
            resources: None,
            labels: None,
            annotations: None,
            autostart: None,
            autoquit: Some(v2::AutoquitSpec {
                enabled: Some(true),
                timeout: Some(30),
            }),
            extra_args: None,
            web_ui: None,
        },
        worker: v2::WorkerSpec {
            command: "--locustfile /lotest/src/locustfile.py".to_string(),
            replicas: 2,
            processes: None,
            resources: None,
            labels: None,
            annotations: None,
            extra_args: None,
        },
        test_files: Some(v2::TestFilesSpec {
            config_map_ref: Some("demo-locustfile".to_string()),
            lib_config_map_ref: None,
            src_mount_path: None,
            lib_mount_path: None,
        }),
        scheduling: None,
        env: None,
        volumes: None,
        volume_mounts: None,
        security: None,
        observability: None,
        thresholds: None,
    };
    v2::LocustTest::new("demo", spec)
}

/// A schedule running the v2 sample every night at 03:00 Berlin time.
pub fn sample_schedule() -> LocustTestSchedule {
    let spec = LocustTestScheduleSpec {
        schedule: "0 3 * * *".to_string(),
        time_zone: Some("Europe/Berlin".to_string()),
        concurrency_policy: None,
        starting_deadline_seconds: Some(600),
        successful_runs_history_limit: None,
        failed_runs_history_limit: None,
        suspend: None,
        template: RunTemplate {
            metadata: None,
            spec: sample_v2().spec,
        },
    };
    LocustTestSchedule::new("nightly", spec)
}

/// The same test written for the Go operator's v1 API.
pub fn sample_v1() -> v1::LocustTest {
    let spec = v1::LocustTestSpec {
        master_command_seed: "--locustfile /lotest/src/locustfile.py --host https://example.com --users 20 --spawn-rate 5 --run-time 2m".to_string(),
        worker_command_seed: "--locustfile /lotest/src/locustfile.py".to_string(),
        worker_replicas: 2,
        image: SAMPLE_LOCUST_IMAGE.to_string(),
        image_pull_policy: None,
        image_pull_secrets: None,
        config_map: Some("demo-locustfile".to_string()),
        lib_config_map: None,
        labels: None,
        annotations: None,
        affinity: None,
        tolerations: None,
        v2_spec: None,
    };
    v1::LocustTest::new("demo-v1", spec)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::validation::validate_object;

    #[test]
    fn samples_pass_validation() {
        for sample in [
            serde_json::to_value(sample_v2()).unwrap(),
            serde_json::to_value(sample_v1()).unwrap(),
        ] {
            assert_eq!(validate_object(&sample, "sample", None), vec![]);
        }
    }

    #[test]
    fn schedule_sample_parses_and_its_run_passes_validation() {
        let schedule = sample_schedule();
        let spec = &schedule.spec;
        assert!(
            crate::api::cron::CronSchedule::parse(&spec.schedule, spec.time_zone.as_deref())
                .is_ok()
        );
        let run = v2::LocustTest::new("nightly-29000000", spec.template.spec.clone());
        let run = serde_json::to_value(run).unwrap();
        assert_eq!(validate_object(&run, "run", None), vec![]);
    }
}
