//! Locust operator: runs distributed Locust load tests on Kubernetes.
//!
//! Data flows one way: [`api`] -> [`resources`] -> [`controller`] applies; [`api`] + [`resources`]
//! + [`config`] -> [`manifests`] writes files. Nothing in `api` or `resources` talks to a cluster.
pub mod api;
pub mod client;
pub mod config;
pub mod contract;
pub mod controller;
pub mod manifests;
pub mod operator;
pub mod report;
pub mod resources;
pub mod stats;
pub mod telemetry;
pub mod ui;
pub mod webhook;
