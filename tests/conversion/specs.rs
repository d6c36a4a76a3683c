//! Strategies for v1 and v2 specs and objects, defaulted as the API server stores them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use locust_operator::api::conversion::to_v2;
use locust_operator::api::crd::version_schema;
use locust_operator::api::defaults::apply_defaults;
use locust_operator::api::{v1, v2};
use proptest::collection::{btree_map, vec};
use proptest::option::of as maybe;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::core_types::{
    affinity, container_security_context, env_var, pod_security_context, resources, toleration,
    volume,
};

/// A spec defaulted by the `version` schema, as the API server stores it.
pub fn defaulted<T: Serialize + DeserializeOwned>(version: &str, spec: &T) -> T {
    let schema = version_schema(version)
        .unwrap()
        .and_then(|schema| schema.pointer("/properties/spec"))
        .unwrap();
    let mut json = serde_json::to_value(spec).unwrap();
    apply_defaults(schema, &mut json);
    serde_json::from_value(json).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Scalars and maps.

pub fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-zA-Z0-9./:= _-]{0,16}",
        1 => ".{0,6}",
    ]
    .boxed()
}

pub fn name() -> BoxedStrategy<String> {
    "[a-z][a-z0-9-]{0,8}".boxed()
}

pub fn label_key() -> BoxedStrategy<String> {
    "([a-z]{1,4}\\.io/)?[a-z][a-z0-9-]{0,6}".boxed()
}

pub fn string_map() -> BoxedStrategy<BTreeMap<String, String>> {
    btree_map(label_key(), text(), 0..3).boxed()
}

pub fn path() -> BoxedStrategy<String> {
    "/[a-z]{1,6}(/[a-z]{1,6})?".boxed()
}

pub fn pull_policy() -> BoxedStrategy<v2::PullPolicy> {
    prop_oneof![
        Just(v2::PullPolicy::Always),
        Just(v2::PullPolicy::IfNotPresent),
        Just(v2::PullPolicy::Never),
    ]
    .boxed()
}

pub fn taint_effect() -> BoxedStrategy<v1::TaintEffect> {
    prop_oneof![
        Just(v1::TaintEffect::NoSchedule),
        Just(v1::TaintEffect::PreferNoSchedule),
        Just(v1::TaintEffect::NoExecute),
    ]
    .boxed()
}

pub fn toleration_operator() -> BoxedStrategy<v1::TolerationOperator> {
    prop_oneof![
        Just(v1::TolerationOperator::Exists),
        Just(v1::TolerationOperator::Equal),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// v1.

pub fn role_maps() -> BoxedStrategy<v1::RoleMaps> {
    (maybe(string_map()), maybe(string_map()))
        .prop_map(|(master, worker)| v1::RoleMaps { master, worker })
        .boxed()
}

pub fn legacy_affinity() -> BoxedStrategy<v1::LegacyAffinity> {
    maybe(maybe(btree_map(label_key(), name(), 0..4)))
        .prop_map(|node| v1::LegacyAffinity {
            node_affinity: node.map(|required| v1::LegacyNodeAffinity {
                required_during_scheduling_ignored_during_execution: required,
            }),
        })
        .boxed()
}

pub fn legacy_toleration() -> BoxedStrategy<v1::LegacyToleration> {
    (name(), toleration_operator(), maybe(text()), taint_effect())
        .prop_map(|(key, operator, value, effect)| v1::LegacyToleration {
            key,
            operator,
            value,
            effect,
        })
        .boxed()
}

/// Every v1 spec the v1 schema admits, defaulted.
pub fn v1_spec() -> BoxedStrategy<v1::LocustTestSpec> {
    (
        (text(), text(), 1..=500i32, text(), maybe(pull_policy())),
        (maybe(vec(name(), 0..3)), maybe(name()), maybe(name())),
        (
            maybe(role_maps()),
            maybe(role_maps()),
            maybe(legacy_affinity()),
            maybe(vec(legacy_toleration(), 0..3)),
        ),
    )
        .prop_map(
            |(
                (master_command_seed, worker_command_seed, worker_replicas, image, pull),
                (image_pull_secrets, config_map, lib_config_map),
                (labels, annotations, affinity, tolerations),
            )| {
                let spec = v1::LocustTestSpec {
                    master_command_seed,
                    worker_command_seed,
                    worker_replicas,
                    image,
                    image_pull_policy: pull,
                    image_pull_secrets,
                    config_map,
                    lib_config_map,
                    labels,
                    annotations,
                    affinity,
                    tolerations,
                    v2_spec: None,
                };
                defaulted("v1", &spec)
            },
        )
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// v2.

pub fn master() -> BoxedStrategy<v2::MasterSpec> {
    (
        text(),
        maybe(resources()),
        maybe(string_map()),
        maybe(string_map()),
        maybe(any::<bool>()),
        maybe((maybe(any::<bool>()), maybe(0..3600i32))),
        maybe(vec(text(), 0..3)),
        maybe(web_ui()),
    )
        .prop_map(
            |(command, resources, labels, annotations, autostart, autoquit, extra_args, web_ui)| {
                v2::MasterSpec {
                    command,
                    resources,
                    labels,
                    annotations,
                    autostart,
                    autoquit: autoquit
                        .map(|(enabled, timeout)| v2::AutoquitSpec { enabled, timeout }),
                    extra_args,
                    web_ui,
                }
            },
        )
        .boxed()
}

fn web_ui() -> BoxedStrategy<v2::WebUiSpec> {
    let host = || "[a-z]{1,6}(\\.[a-z]{1,6}){0,2}".boxed();
    let ingress = (host(), maybe(name()), maybe(name()), maybe(string_map())).prop_map(
        |(host, class_name, tls_secret_name, annotations)| v2::WebUiIngress {
            host,
            class_name,
            tls_secret_name,
            annotations,
        },
    );
    let parent =
        (name(), maybe(name()), maybe(name())).prop_map(|(name, namespace, section_name)| {
            v2::GatewayRef {
                name,
                namespace,
                section_name,
            }
        });
    let route =
        (vec(parent, 1..3), maybe(vec(host(), 0..3))).prop_map(|(parent_refs, hostnames)| {
            v2::WebUiHttpRoute {
                parent_refs,
                hostnames,
            }
        });
    (
        maybe("(/[a-z0-9._-]{1,8}){1,3}".boxed()),
        maybe(ingress),
        maybe(route),
    )
        .prop_map(|(base_path, ingress, http_route)| v2::WebUiSpec {
            base_path,
            ingress,
            http_route,
        })
        .boxed()
}

pub fn worker() -> BoxedStrategy<v2::WorkerSpec> {
    (
        text(),
        1..=500i32,
        maybe(1..=v2::MAX_WORKER_PROCESSES),
        maybe(resources()),
        maybe(string_map()),
        maybe(string_map()),
        maybe(vec(text(), 0..3)),
    )
        .prop_map(
            |(command, replicas, processes, resources, labels, annotations, extra_args)| {
                v2::WorkerSpec {
                    command,
                    replicas,
                    processes,
                    resources,
                    labels,
                    annotations,
                    extra_args,
                }
            },
        )
        .boxed()
}

pub fn test_files() -> BoxedStrategy<v2::TestFilesSpec> {
    (maybe(name()), maybe(name()), maybe(path()), maybe(path()))
        .prop_map(
            |(config_map_ref, lib_config_map_ref, src_mount_path, lib_mount_path)| {
                v2::TestFilesSpec {
                    config_map_ref,
                    lib_config_map_ref,
                    src_mount_path,
                    lib_mount_path,
                }
            },
        )
        .boxed()
}

pub fn scheduling() -> BoxedStrategy<v2::SchedulingSpec> {
    (
        maybe(affinity()),
        maybe(vec(toleration(), 0..3)),
        maybe(string_map()),
        maybe(prop_oneof![Just(String::new()), "[a-z]{1,8}"]),
    )
        .prop_map(
            |(affinity, tolerations, node_selector, runtime_class_name)| v2::SchedulingSpec {
                affinity,
                tolerations,
                node_selector,
                runtime_class_name,
            },
        )
        .boxed()
}

pub fn prefixed_source() -> BoxedStrategy<v2::PrefixedSource> {
    (name(), maybe("[A-Z_]{1,6}"))
        .prop_map(|(name, prefix)| v2::PrefixedSource { name, prefix })
        .boxed()
}

pub fn env() -> BoxedStrategy<v2::EnvSpec> {
    (
        maybe(vec(prefixed_source(), 0..3)),
        maybe(vec(prefixed_source(), 0..3)),
        maybe(vec(env_var(), 0..3)),
        maybe(vec(
            (name(), path(), maybe(any::<bool>())).prop_map(|(name, mount_path, read_only)| {
                v2::SecretMount {
                    name,
                    mount_path,
                    read_only,
                }
            }),
            0..3,
        )),
    )
        .prop_map(
            |(config_map_refs, secret_refs, variables, secret_mounts)| v2::EnvSpec {
                config_map_refs,
                secret_refs,
                variables,
                secret_mounts,
            },
        )
        .boxed()
}

pub fn volume_mount() -> BoxedStrategy<v2::TargetedVolumeMount> {
    (
        name(),
        path(),
        maybe(name()),
        maybe("\\$\\([A-Z]{1,4}\\)"),
        maybe(any::<bool>()),
        maybe(prop_oneof![Just("None"), Just("HostToContainer")]),
        maybe(prop_oneof![
            Just(v2::MountTarget::Master),
            Just(v2::MountTarget::Worker),
            Just(v2::MountTarget::Both)
        ]),
    )
        .prop_map(
            |(name, mount_path, sub_path, sub_path_expr, read_only, propagation, target)| {
                v2::TargetedVolumeMount {
                    name,
                    mount_path,
                    sub_path,
                    sub_path_expr,
                    read_only,
                    mount_propagation: propagation.map(str::to_string),
                    target,
                }
            },
        )
        .boxed()
}

pub fn observability() -> BoxedStrategy<v2::ObservabilitySpec> {
    maybe(
        (
            any::<bool>(),
            maybe(prop_oneof![Just("http://otel:4317".to_string()), text()]),
            maybe(prop_oneof![
                Just(v2::OtlpProtocol::Grpc),
                Just(v2::OtlpProtocol::HttpProtobuf)
            ]),
            maybe(any::<bool>()),
            maybe(btree_map("OTEL_[A-Z_]{1,8}", text(), 0..3)),
        )
            .prop_map(|(enabled, endpoint, protocol, insecure, extra_env_vars)| {
                v2::OpenTelemetrySpec {
                    enabled,
                    endpoint,
                    protocol,
                    insecure,
                    extra_env_vars,
                }
            }),
    )
    .prop_map(|open_telemetry| v2::ObservabilitySpec { open_telemetry })
    .boxed()
}

fn limits() -> BoxedStrategy<v2::Limits> {
    let ms = || maybe(prop_oneof![Just(0.0f64), Just(250.0), Just(1234.5)]);
    (
        maybe(prop_oneof![Just(0.0f64), Just(0.01), Just(1.0)]),
        ms(),
        ms(),
        ms(),
        ms(),
        maybe(prop_oneof![Just(0.5f64), Just(100.0)]),
        maybe(0..100_000i64),
    )
        .prop_map(|(fail, avg, p50, p95, p99, rps, requests)| v2::Limits {
            max_fail_ratio: fail,
            max_average_response_time: avg,
            max_p50_response_time: p50,
            max_p95_response_time: p95,
            max_p99_response_time: p99,
            min_requests_per_second: rps,
            min_requests: requests,
        })
        .boxed()
}

pub fn thresholds() -> BoxedStrategy<v2::ThresholdsSpec> {
    (
        maybe(limits()),
        maybe(vec(
            (
                text(),
                maybe(prop_oneof![Just("GET".to_string()), text()]),
                limits(),
            )
                .prop_map(|(name, method, limits)| v2::EndpointLimits {
                    name,
                    method,
                    limits,
                }),
            0..3,
        )),
        maybe(any::<bool>()),
        maybe(0..600i32),
    )
        .prop_map(
            |(aggregate, endpoints, stop_on_breach, grace)| v2::ThresholdsSpec {
                aggregate,
                endpoints,
                stop_on_breach,
                stop_grace_period_seconds: grace,
                baseline: None,
            },
        )
        .boxed()
}

/// Any v2 spec the schema admits (structurally), with every field in play.
pub fn arbitrary_v2_spec() -> BoxedStrategy<v2::LocustTestSpec> {
    (
        (
            text(),
            maybe(pull_policy()),
            maybe(vec(name(), 0..3)),
            master(),
            worker(),
        ),
        (
            maybe(test_files()),
            maybe(scheduling()),
            maybe(env()),
            maybe(vec(volume(), 0..3)),
            maybe(vec(volume_mount(), 0..3)),
        ),
        (
            maybe(
                (
                    maybe(pod_security_context()),
                    maybe(container_security_context()),
                )
                    .prop_map(|(pod, container)| v2::SecuritySpec {
                        pod_security_context: pod,
                        container_security_context: container,
                    }),
            ),
            maybe(observability()),
            maybe(thresholds()),
        ),
    )
        .prop_map(
            |(
                (image, image_pull_policy, secrets, master, worker),
                (test_files, scheduling, env, volumes, volume_mounts),
                (security, observability, thresholds),
            )| v2::LocustTestSpec {
                image,
                image_pull_policy,
                image_pull_secrets: secrets.map(|names| {
                    names
                        .into_iter()
                        .map(|name| LocalObjectReference { name })
                        .collect()
                }),
                master,
                worker,
                test_files,
                scheduling,
                env,
                volumes,
                volume_mounts,
                security,
                observability,
                thresholds,
            },
        )
        .boxed()
}

/// Defaulted v2 specs: mostly arbitrary, some exactly what v1 produces (no annotation needed).
pub fn v2_spec() -> BoxedStrategy<v2::LocustTestSpec> {
    prop_oneof![
        3 => arbitrary_v2_spec().prop_map(|spec| defaulted("v2", &spec)),
        1 => v1_spec().prop_map(|spec| to_v2(&v1::LocustTest::new("x", spec)).unwrap().spec),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// Metadata as the API server keeps it: maps are absent or non-empty, never our annotations.
pub fn metadata() -> BoxedStrategy<ObjectMeta> {
    let non_empty = || maybe(btree_map(label_key(), text(), 1..3));
    (
        name(),
        name(),
        "[0-9a-f]{8}",
        non_empty(),
        non_empty(),
        maybe(1..100i64),
    )
        .prop_map(
            |(name, namespace, uid, annotations, labels, generation)| ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                uid: Some(uid),
                annotations,
                labels,
                generation,
                ..Default::default()
            },
        )
        .boxed()
}

pub fn status() -> BoxedStrategy<v2::LocustTestStatus> {
    (
        maybe(prop_oneof![
            Just(v2::Phase::Pending),
            Just(v2::Phase::Running),
            Just(v2::Phase::Succeeded),
            Just(v2::Phase::Failed)
        ]),
        maybe(0..100i64),
        maybe(0..500i32),
        maybe(prop_oneof![Just(0.0f64), Just(0.25), Just(12.5)]),
    )
        .prop_map(|(phase, generation, workers, ratio)| v2::LocustTestStatus {
            phase,
            observed_generation: generation,
            expected_workers: workers,
            connected_workers: workers,
            result: ratio.map(|ratio| v2::TestResult {
                failure_ratio: Some(ratio),
                total_requests: Some(100),
                ..Default::default()
            }),
            ..Default::default()
        })
        .boxed()
}

pub fn v1_object() -> BoxedStrategy<v1::LocustTest> {
    (metadata(), v1_spec(), maybe(status()))
        .prop_map(|(metadata, spec, status)| v1::LocustTest {
            metadata,
            spec,
            status,
        })
        .boxed()
}

pub fn v2_object() -> BoxedStrategy<v2::LocustTest> {
    (metadata(), v2_spec(), maybe(status()))
        .prop_map(|(metadata, spec, status)| v2::LocustTest {
            metadata,
            spec,
            status,
        })
        .boxed()
}
