//! Figures for the operator's hot paths (`cargo bench --bench hot_paths`): validating a spec,
//! building its children and converting it between versions, per call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use locust_operator::api::conversion::convert_object;
use locust_operator::api::v2::LocustTest;
use locust_operator::api::validation::validate_object;
use locust_operator::config::Config;
use locust_operator::resources::build_children;

fn measure(what: &str, mut f: impl FnMut()) {
    // Warm up, then run for about a second.
    for _ in 0..10 {
        f();
    }
    let started = Instant::now();
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        f();
        n += 1;
    }
    let per = started.elapsed() / n;
    println!(
        "{what:<48} {:>10.1} us/op  ({n} ops)",
        per.as_secs_f64() * 1e6
    );
}

fn main() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/valid/v2-full.yaml"
    ))
    .unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let mut test: LocustTest = serde_json::from_value(value.clone()).unwrap();
    test.metadata.namespace = Some("bench".into());
    test.metadata.uid = Some("0000-1111".into());
    let config = Config {
        affinity_injection: true,
        tolerations_injection: true,
        ..Config::default()
    };

    measure("validate_object (OpenAPI + CEL), full v2 spec", || {
        black_box(validate_object(black_box(&value), "bench", None));
    });
    measure("build_children, full v2 spec", || {
        black_box(build_children(black_box(&test), &config).unwrap());
    });
    measure("convert_object v2 -> v1 (with annotation)", || {
        black_box(convert_object(black_box(&value), "locust.io/v1").unwrap());
    });
    let v1 = convert_object(&value, "locust.io/v1").unwrap();
    measure("convert_object v1 -> v2 (restores the annotation)", || {
        black_box(convert_object(black_box(&v1), "locust.io/v2").unwrap());
    });
}
