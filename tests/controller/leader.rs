//! Leader election between operator replicas, each with a ServiceAccount of its own so that the
//! API server's audit log tells their writes apart: a standby does nothing until it leads and
//! takes over within the bound; a leader frozen until its Lease is taken writes nothing more
//! and exits; SIGTERM hands the Lease over at once.

use std::time::SystemTime;

use crate::common::*;
use support::audit;
use support::operator::operator_identity_named;

/// Lease timing of the operator (controller::leader::LeaseSettings::new).
const LEASE_DURATION: Duration = Duration::from_secs(15);
const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// An operator replica with leader election on, as ServiceAccount `name`.
async fn replica(cluster: &Cluster, ns: &str, name: &str) -> OperatorProcess {
    let identity = operator_identity_named(cluster, ns, name).await;
    let mut options = OperatorOptions::new(&identity.kubeconfig, ns);
    options.leader_elect = true;
    let mut replica = OperatorProcess::start(cluster, name, &options);
    replica.wait_ready().await;
    replica
}

/// Who holds the leader Lease in `ns`.
async fn lease_holder(cluster: &Cluster, ns: &str) -> Option<String> {
    Api::<Lease>::namespaced(cluster.client(), ns)
        .get_opt("locust-k8s-operator.locust.io")
        .await
        .unwrap()
        .and_then(|l| l.spec?.holder_identity)
}

async fn wait_leader(cluster: &Cluster, ns: &str, name: &str, within: Duration) {
    wait::until(&format!("{name} to lead"), within, async || {
        lease_holder(cluster, ns).await.filter(|h| h == name)
    })
    .await;
}

/// The writes replica `name` made in `ns`, the Lease left out (standbys and leaders alike
/// write it).
fn writes_of(cluster: &Cluster, ns: &str, name: &str) -> Vec<audit::Write> {
    let user = format!("system:serviceaccount:{ns}:{name}");
    audit::writes(cluster)
        .into_iter()
        .filter(|w| w.user == user && w.resource != "leases")
        .collect()
}

pub async fn standby_takes_over_within_the_lease_bound_having_done_nothing_before(
    cluster: &'static Cluster,
) {
    let (ns, _) = prepare(cluster, "leader").await;
    let mut first = replica(cluster, &ns, "replica-a").await;
    wait_leader(cluster, &ns, "replica-a", Duration::from_secs(30)).await;
    let second = replica(cluster, &ns, "replica-b").await;
    create(cluster, &ns, locust_test("before", 1, "1h", "1h")).await;
    wait_phase(
        cluster,
        &ns,
        "before",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;

    // The standby did nothing: no write of its own, no reconcile, not the leader.
    assert!(!writes_of(cluster, &ns, "replica-a").is_empty());
    let standby_writes = writes_of(cluster, &ns, "replica-b");
    assert!(
        standby_writes.is_empty(),
        "the standby wrote: {standby_writes:?}"
    );
    assert_eq!(
        second.metric("locust_operator_reconciliations_total").await,
        0.0
    );
    assert_eq!(second.metric("locust_operator_leader").await, 0.0);
    assert_eq!(first.metric("locust_operator_leader").await, 1.0);

    first.kill();
    let killed = Instant::now();
    create(cluster, &ns, locust_test("after", 1, "1h", "1h")).await;
    let bound = LEASE_DURATION + 2 * RETRY_PERIOD;
    // A second over the bound for the polls and requests that observe it.
    wait_leader(cluster, &ns, "replica-b", bound + Duration::from_secs(1)).await;
    let took = killed.elapsed();
    wait_phase(
        cluster,
        &ns,
        "after",
        Phase::Running,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(second.metric("locust_operator_leader").await, 1.0);
    assert!(second.metric("locust_operator_reconciliations_total").await > 0.0);
    eprintln!(
        "FIGURES: leader SIGKILLed; the standby took the lease {:.1}s later (bound: lease duration {}s + 2 retry periods of {}s) and reconciled a new test {:.1}s after the kill",
        took.as_secs_f64(),
        LEASE_DURATION.as_secs(),
        RETRY_PERIOD.as_secs(),
        killed.elapsed().as_secs_f64()
    );
}

pub async fn a_leader_whose_lease_is_taken_writes_nothing_more_and_exits(
    cluster: &'static Cluster,
) {
    let (ns, _) = prepare(cluster, "lost-lease").await;
    let mut first = replica(cluster, &ns, "replica-a").await;
    wait_leader(cluster, &ns, "replica-a", Duration::from_secs(30)).await;
    let mut second = replica(cluster, &ns, "replica-b").await;

    // Tests keep arriving the whole time, so the leader always has something to write.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let arrivals = {
        let ns = ns.clone();
        tokio::spawn(async move {
            let mut created = 0usize;
            while !*stopped.borrow() {
                create(
                    cluster,
                    &ns,
                    locust_test(&format!("flow-{created}"), 1, "1h", "3s"),
                )
                .await;
                created += 1;
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            created
        })
    };
    wait::until(
        "the leader to start tests",
        Duration::from_secs(30),
        async || {
            let n = Api::<Job>::namespaced(cluster.client(), &ns)
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len();
            (n >= 4).then_some(())
        },
    )
    .await;

    // Frozen (a long pause, a partition) until the standby has taken the Lease.
    first.pause();
    let paused = SystemTime::now();
    wait_leader(
        cluster,
        &ns,
        "replica-b",
        LEASE_DURATION + 2 * RETRY_PERIOD + Duration::from_secs(1),
    )
    .await;
    let taken = SystemTime::now();
    // The new leader works before the old one wakes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.resume();
    let resumed = SystemTime::now();
    let code = first.wait_exit(Duration::from_secs(10)).await;
    assert!(
        matches!(code, Some(c) if c != 0),
        "the deposed leader must exit non-zero, got {code:?}:\n{}",
        first.log_text()
    );
    assert!(
        first.log_text().contains("lost the leader lease"),
        "{}",
        first.log_text()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).unwrap();
    let created = arrivals.await.unwrap();

    // The survivor carries on with every test, those that arrived meanwhile included.
    assert!(second.is_running());
    let api = tests_api(cluster, &ns);
    wait::until_ok("every test to run", Duration::from_secs(90), async || {
        let tests = api.list(&ListParams::default()).await.unwrap().items;
        let running = tests
            .iter()
            .filter(|t| phase_of(t) == Some(Phase::Running))
            .count();
        if running == created {
            Ok(())
        } else {
            Err(format!("{running}/{created} running"))
        }
    })
    .await;

    // No split brain: every write of the old leader was done before the new one's first.
    let old = writes_of(cluster, &ns, "replica-a");
    let new = writes_of(cluster, &ns, "replica-b");
    assert!(!old.is_empty() && !new.is_empty());
    let last_old = old.iter().map(|w| w.completed).max().unwrap();
    let first_new = new.iter().map(|w| w.received).min().unwrap();
    let to_timestamp = |t: SystemTime| jiff::Timestamp::try_from(t).unwrap();
    assert!(
        last_old < first_new,
        "writers overlapped: replica-a's last write ended {last_old}, replica-b's first began {first_new}"
    );
    assert!(first_new >= to_timestamp(paused));
    eprintln!(
        "FIGURES: leader frozen; standby took the lease {:.1}s later; the old leader woke {:.1}s after that and exited (code {code:?}); {} writes by the old leader, {} by the new, the first new one {:.1}s after the last old one; {created} tests created meanwhile all run",
        taken.duration_since(paused).unwrap().as_secs_f64(),
        resumed.duration_since(taken).unwrap().as_secs_f64(),
        old.len(),
        new.len(),
        first_new.duration_since(last_old).as_secs_f64(),
    );
}

pub async fn sigterm_stops_the_leader_cleanly_and_hands_the_lease_over(cluster: &'static Cluster) {
    let (ns, _) = prepare(cluster, "sigterm").await;
    let mut first = replica(cluster, &ns, "replica-a").await;
    wait_leader(cluster, &ns, "replica-a", Duration::from_secs(30)).await;
    let mut second = replica(cluster, &ns, "replica-b").await;

    let stopped_at = Instant::now();
    assert!(
        first.terminate(Duration::from_secs(20)),
        "the leader did not exit on SIGTERM"
    );
    assert_eq!(first.exit_code(), Some(0), "{}", first.log_text());
    wait_leader(cluster, &ns, "replica-b", Duration::from_secs(10)).await;
    let handed_over = stopped_at.elapsed();
    // Well under the 15 s lease duration: the lease was released, not left to expire.
    assert!(
        handed_over < Duration::from_secs(10),
        "took {handed_over:?}"
    );
    eprintln!(
        "lease handed over {:.1}s after SIGTERM",
        handed_over.as_secs_f64()
    );
    assert!(second.is_running());
}
