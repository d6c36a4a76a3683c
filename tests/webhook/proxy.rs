//! A stand-in for the webhook Service: a TCP forwarder on loopback that sends each new
//! connection to the next ready replica, as kube-proxy sends Service traffic to ready
//! endpoints. Readiness is each replica's /readyz, polled every 100 ms (a kubelet probes every
//! few seconds; the operator's shutdown delay covers that). Like kube-proxy, it picks one
//! endpoint per connection and never tries another: a connection to a replica that is gone
//! fails. TLS stays end to end between the API server and the operator; the forwarder only
//! copies bytes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::operator::http_get;

#[derive(Clone, Debug)]
pub struct Backend {
    pub name: String,
    pub webhook: SocketAddr,
    /// `host:port` of the replica's health endpoint.
    pub health: String,
    pub ready: bool,
}

pub struct Proxy {
    pub address: SocketAddr,
    backends: Arc<Mutex<Vec<Backend>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let backends: Arc<Mutex<Vec<Backend>>> = Arc::default();
        let next = Arc::new(AtomicUsize::new(0));
        let accept = {
            let backends = backends.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let candidates = choose(&backends, &next);
                    tokio::spawn(forward(inbound, candidates));
                }
            })
        };
        let probe = {
            let backends = backends.clone();
            tokio::spawn(async move {
                loop {
                    let snapshot: Vec<Backend> = backends.lock().unwrap().clone();
                    for backend in snapshot {
                        let url = format!("http://{}/readyz", backend.health);
                        let ready = matches!(http_get(&url).await, Ok((200, _)));
                        let mut all = backends.lock().unwrap();
                        if let Some(b) = all.iter_mut().find(|b| b.name == backend.name) {
                            b.ready = ready;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        Self {
            address,
            backends,
            tasks: vec![accept, probe],
        }
    }

    /// Adds or replaces the replica `name` (not ready until its first probe).
    pub fn set_backend(&self, name: &str, webhook: SocketAddr, health: &str) {
        let mut all = self.backends.lock().unwrap();
        all.retain(|b| b.name != name);
        all.push(Backend {
            name: name.to_string(),
            webhook,
            health: health.to_string(),
            ready: false,
        });
    }

    pub fn url(&self) -> String {
        format!("https://{}/convert", self.address)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Ready replicas in round-robin order; if none is ready, every replica (as a Service falls
/// back to terminating endpoints that still serve).
fn choose(backends: &Mutex<Vec<Backend>>, next: &AtomicUsize) -> Vec<SocketAddr> {
    let all = backends.lock().unwrap();
    let ready: Vec<SocketAddr> = all.iter().filter(|b| b.ready).map(|b| b.webhook).collect();
    let mut pool = if ready.is_empty() {
        all.iter().map(|b| b.webhook).collect()
    } else {
        ready
    };
    if !pool.is_empty() {
        let start = next.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool.rotate_left(start);
    }
    pool
}

/// Copies bytes between the connection and the chosen replica; if that replica does not
/// accept, the connection is closed (no second choice, as with kube-proxy).
async fn forward(mut inbound: TcpStream, candidates: Vec<SocketAddr>) {
    let Some(&chosen) = candidates.first() else {
        return;
    };
    let connected = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(chosen)).await;
    if let Ok(Ok(mut outbound)) = connected {
        let _ = outbound.set_nodelay(true);
        let _ = inbound.set_nodelay(true);
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
