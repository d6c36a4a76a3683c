//! Real Locust (the pinned PyPI release, `make tools`) running the exact master and worker
//! command lines the operator builds, on loopback: the workers connect, the master starts on its
//! own, quits after the run, and its exit code is what the status reports rely on.
//!
//! One change to the built arguments: workers reach the master at 127.0.0.1 instead of the
//! Service name `<test>-master`, which only resolves inside a cluster.
//!
//! - [`arguments`]: the command lines, exit codes, `--processes`;
//! - [`stats`]: the operator's stats reader on a real master: live figures, the final result,
//!   the report and its ConfigMap, stopOnBreach, `--web-base-path`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::{Duration, Instant};

#[allow(dead_code)]
#[path = "../support"]
mod support {
    pub mod tools;
}

mod arguments;
mod stats;

use locust_operator::api::v2::LocustTestSpec;
use locust_operator::resources::{master_args, worker_args};
use serde_json::json;

// The master binds fixed ports (5557, 8089): the tests take turns.
pub(crate) static SERIAL: Mutex<()> = Mutex::new(());

/// The Locust executable (`make tools`); a missing one fails the test.
pub(crate) fn locust() -> PathBuf {
    support::tools::tool("locust").unwrap_or_else(|e| panic!("{e}"))
}

/// A target answering 200 on `/` and 500 on `/fail`; counts the requests.
pub(crate) fn target() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 2 {
                        line.clear();
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    let status = if request_line.contains(" /fail ") {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
                    );
                    if stream.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, hits)
}

pub(crate) fn locustfile(dir: &std::path::Path, with_failures: bool) -> PathBuf {
    let path = dir.join("locustfile.py");
    let fail_task = if with_failures {
        "    @task\n    def broken(self):\n        self.client.get(\"/fail\")\n"
    } else {
        ""
    };
    std::fs::write(
        &path,
        format!(
            "from locust import HttpUser, task, constant\n\nclass Visitor(HttpUser):\n    wait_time = constant(0.2)\n\n    @task\n    def home(self):\n        self.client.get(\"/\")\n{fail_task}"
        ),
    )
    .unwrap();
    path
}

pub(crate) fn spec(
    file: &std::path::Path,
    port: u16,
    replicas: i32,
    worker_extra: &[&str],
) -> LocustTestSpec {
    let file = file.display();
    serde_json::from_value(json!({
        "image": "locustio/locust:2.46.7",
        "master": {
            "command": format!("--locustfile {file} --host http://127.0.0.1:{port} --users 4 --spawn-rate 4 --run-time 4s"),
            "autoquit": {"enabled": true, "timeout": 1},
        },
        "worker": {
            "command": format!("--locustfile {file}"),
            "replicas": replicas,
            "extraArgs": worker_extra,
        },
    }))
    .unwrap()
}

pub(crate) struct Run {
    pub master_code: i32,
    pub worker_codes: Vec<i32>,
    pub master_log: String,
    pub took: Duration,
}

pub(crate) fn spawn(args: &[String], log: &std::path::Path) -> Child {
    Command::new(locust())
        .args(args)
        .current_dir(log.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap()
}

pub(crate) fn wait(child: &mut Child, limit: Duration, what: &str) -> i32 {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The master and one worker process per replica, started with the operator's arguments
/// (workers first, as happens when their pods start before the master's: they wait).
pub(crate) fn start(spec: &LocustTestSpec, dir: &std::path::Path) -> (Child, Vec<Child>) {
    let master = master_args(spec).unwrap();
    let worker: Vec<String> = worker_args(spec, "demo")
        .unwrap()
        .into_iter()
        .map(|a| {
            if a.starts_with("--master-host=") {
                "--master-host=127.0.0.1".to_string()
            } else {
                a
            }
        })
        .collect();
    let workers: Vec<Child> = (0..spec.worker.replicas)
        .map(|i| spawn(&worker, &dir.join(format!("worker-{i}.log"))))
        .collect();
    (spawn(&master, &dir.join("master.log")), workers)
}

/// Runs the master and one worker process per replica with the operator's arguments.
pub(crate) fn run(spec: &LocustTestSpec, dir: &std::path::Path) -> Run {
    let started = Instant::now();
    let (mut master_process, mut workers) = start(spec, dir);
    let master_code = wait(
        &mut master_process,
        Duration::from_secs(90),
        "the Locust master",
    );
    let worker_codes = workers
        .iter_mut()
        .map(|w| wait(w, Duration::from_secs(30), "a Locust worker"))
        .collect();
    Run {
        master_code,
        worker_codes,
        master_log: std::fs::read_to_string(dir.join("master.err")).unwrap_or_default(),
        took: started.elapsed(),
    }
}
