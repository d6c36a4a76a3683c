//! Leader election with a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! reconciles while the others stand by (and keep serving the webhook).
//!
//! Expiry is judged by this replica's own clock: a lease counts as expired when its content has
//! not changed for a whole lease duration since we last saw it change, so clock skew between
//! nodes does not matter (the approach of client-go).
//!
//! A leader may write only while its last renewal is younger than the renew deadline (the
//! [`Fence`]): a replica frozen for longer (a long pause, a partition) may already have been
//! replaced when it wakes, so it writes nothing more and leaves once it sees the Lease taken.
//! The fence is checked as each request leaves the process ([`super::fenced`]), not only when a
//! reconcile starts. The renew deadline is shorter than the lease duration, so the old leader's
//! last write lands before a standby can count the lease as expired: at most one replica writes
//! at any time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tracing::{debug, info, warn};

/// Lease timing, the defaults of client-go.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// How long a lease stays valid without renewal; a standby takes over after it.
    pub lease_duration: Duration,
    /// The leader gives up when it could not renew for this long.
    pub renew_deadline: Duration,
    /// Interval between attempts.
    pub retry_period: Duration,
}

impl LeaseSettings {
    pub fn new(namespace: String, name: String, identity: String) -> Self {
        Self {
            namespace,
            name,
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Until when this replica may write as the leader (see the module documentation).
#[derive(Debug, Default)]
pub struct Fence {
    until: Mutex<Option<Instant>>,
}

impl Fence {
    /// Whether a write now is covered by a recent renewal.
    pub fn holds(&self) -> bool {
        self.holds_at(Instant::now())
    }

    fn holds_at(&self, now: Instant) -> bool {
        self.lock().is_some_and(|until| now < until)
    }

    pub(crate) fn extend(&self, until: Instant) {
        *self.lock() = Some(until);
    }

    fn close(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Acquires and renews one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    settings: LeaseSettings,
    /// The lease content we last saw, and when we saw it change.
    observed: Option<(Option<LeaseSpec>, Instant)>,
    fence: Arc<Fence>,
}

impl LeaderElector {
    /// `fence` is opened while the lease is held; the controller's client checks it before
    /// each write ([`super::fenced`]).
    pub fn new(client: Client, settings: LeaseSettings, fence: Arc<Fence>) -> Self {
        Self {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
            fence,
        }
    }

    /// Returns once this replica holds the lease.
    pub async fn acquire(&mut self) {
        info!(
            lease = %self.settings.name,
            namespace = %self.settings.namespace,
            identity = %self.settings.identity,
            "waiting for the leader lease"
        );
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    info!(identity = %self.settings.identity, "acquired the leader lease");
                    return;
                }
                Ok(false) => {}
                Err(error) => warn!(%error, "leader election attempt failed"),
            }
            tokio::time::sleep(self.settings.retry_period).await;
        }
    }

    /// Renews the lease until renewal fails for longer than the renew deadline, or another
    /// replica took it; then closes the fence and returns.
    pub async fn hold(&mut self) {
        loop {
            tokio::time::sleep(self.settings.retry_period).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => {}
                Ok(false) => {
                    warn!("another replica holds the leader lease");
                    break;
                }
                Err(error) => {
                    warn!(%error, "cannot renew the leader lease");
                    if !self.fence.holds() {
                        break;
                    }
                }
            }
        }
        self.fence.close();
    }

    /// Gives the lease up so a standby takes over at once (on a clean shutdown).
    pub async fn release(&mut self) {
        self.fence.close();
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => info!("released the leader lease"),
            Err(error) => warn!(%error, "cannot release the leader lease"),
        }
    }

    fn fresh_spec(&self, transitions: i32) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.settings.lease_duration.as_secs()).unwrap_or(15),
            ),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// One round: create, renew or take over the lease. `Ok(true)` when we hold it afterwards;
    /// then the fence is extended to the renew deadline after the round started (the lease was
    /// written no earlier than that).
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let started = Instant::now();
        let held = self.acquire_or_renew_once().await?;
        if held {
            self.fence.extend(started + self.settings.renew_deadline);
        }
        Ok(held)
    }

    async fn acquire_or_renew_once(&mut self) -> Result<bool, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(self.fresh_spec(0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(error) => Err(error),
            };
        };

        let spec = lease.spec.clone().unwrap_or_default();
        let now = Instant::now();
        let changed = self
            .observed
            .as_ref()
            .is_none_or(|(seen, _)| *seen != Some(spec.clone()));
        if changed {
            self.observed = Some((Some(spec.clone()), now));
        }
        let holder = spec.holder_identity.as_deref().unwrap_or("");
        let mine = holder == self.settings.identity;
        let duration = Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15),
        );
        let expired = self
            .observed
            .as_ref()
            .is_some_and(|(_, since)| now.duration_since(*since) > duration);
        if !mine && !holder.is_empty() && !expired {
            debug!(holder, "lease held by another replica");
            return Ok(false);
        }

        let new_spec = if mine {
            LeaseSpec {
                renew_time: Some(MicroTime(Timestamp::now())),
                ..spec
            }
        } else {
            self.fresh_spec(spec.lease_transitions.unwrap_or(0) + 1)
        };
        lease.spec = Some(new_spec.clone());
        // `replace` carries the resourceVersion we read: of two replicas racing, one wins.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                self.observed = Some((Some(new_spec), Instant::now()));
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_holds_only_until_its_deadline_and_not_once_closed() {
        let fence = Fence::default();
        let now = Instant::now();
        assert!(!fence.holds_at(now), "closed until the lease is held");
        fence.extend(now + Duration::from_secs(10));
        assert!(fence.holds_at(now + Duration::from_secs(9)));
        assert!(!fence.holds_at(now + Duration::from_secs(10)));
        fence.close();
        assert!(!fence.holds_at(now));
    }
}
