#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::super::authority::inspect_pem;
use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn policy(ca: u64, serving: u64) -> Policy {
    Policy {
        ca_validity: Duration::from_secs(ca),
        serving_validity: Duration::from_secs(serving),
        names: vec![
            "webhook".into(),
            "webhook.ops.svc".into(),
            "127.0.0.1".into(),
        ],
    }
}

fn trusted_by(serving: &PemPair, bundle: &[String]) -> bool {
    bundle.iter().any(|ca| is_signed_by(&serving.cert, ca))
}

/// Runs the rotation for `steps` seconds as the replicas and the API server would see it, with
/// replicas `replica_lag` behind the Secret and API servers `api_lag` behind the CRD, and checks
/// at every second that whatever any replica may serve is unexpired and trusted by whatever
/// bundle any API server may use. Returns (CA rotations, serving certificates issued).
fn simulate(policy: &Policy, steps: u64, replica_lag: u64, api_lag: u64) -> (usize, usize) {
    let start = SystemTime::now();
    let mut material = fresh(policy, start).unwrap();
    // (since, value) histories.
    let mut served: Vec<(u64, PemPair)> = vec![(0, material.serving.clone())];
    let mut crd: Vec<(u64, Vec<String>)> = vec![(0, material.bundle.clone())];
    let mut cas = vec![material.ca.clone()];
    for t in 1..steps {
        let now = start + t as u32 * SECOND;
        let crd_now = &crd.last().unwrap().1;
        let trusts_next = material.next_ca.as_ref().is_some_and(|next| {
            certificate_set(&crd_now.concat()).is_superset(&certificate_set(&next.cert))
        });
        if let Some((next, changes)) = plan(&material, policy, now, trusts_next).unwrap() {
            assert!(!changes.is_empty());
            material = next;
        }
        // A replica injects the bundle, then records that the CRD holds it.
        if crd.last().unwrap().1 != material.bundle {
            crd.push((t, material.bundle.clone()));
        }
        if material.next_ca.is_some() && material.published_at.is_none() {
            material.published_at = Some(now);
        }
        if served.last().unwrap().1 != material.serving {
            served.push((t, material.serving.clone()));
        }
        if *cas.last().unwrap() != material.ca {
            cas.push(material.ca.clone());
        }
        // Any certificate current within the replica lag may be served...
        let in_window = |history: &[(u64, PemPair)], lag: u64| -> Vec<PemPair> {
            let from = t.saturating_sub(lag);
            history
                .iter()
                .enumerate()
                .filter(|(i, (since, _))| {
                    let until = history.get(i + 1).map_or(u64::MAX, |(next, _)| *next);
                    *since <= t && until > from
                })
                .map(|(_, (_, v))| v.clone())
                .collect()
        };
        let maybe_served = in_window(&served, replica_lag);
        // ... to an API server using any bundle the CRD held within its lag.
        let from = t.saturating_sub(api_lag);
        let bundles: Vec<&Vec<String>> = crd
            .iter()
            .enumerate()
            .filter(|(i, (since, _))| {
                let until = crd.get(i + 1).map_or(u64::MAX, |(next, _)| *next);
                *since <= t && until > from
            })
            .map(|(_, (_, b))| b)
            .collect();
        for serving in &maybe_served {
            let info = inspect_pem(&serving.cert).unwrap();
            assert!(
                !info.expired(now),
                "t={t}: a replica may serve an expired certificate"
            );
            for bundle in &bundles {
                assert!(
                    trusted_by(serving, bundle),
                    "t={t}: a served certificate is not trusted by a bundle the API server may use"
                );
            }
        }
    }
    (cas.len() - 1, served.len())
}

#[test]
fn rotations_never_leave_a_served_certificate_untrusted_or_expired() {
    // CA 90 s, serving 30 s: several renewals and two CA rotations in five minutes, with
    // replicas 5 s and API servers 1 s behind (the propagation delay is 3 s).
    let (ca_rotations, issued) = simulate(&policy(90, 30), 300, 5, 1);
    assert!(ca_rotations >= 2, "{ca_rotations} CA rotations");
    assert!(issued >= 8, "{issued} serving certificates");
}

#[test]
fn default_lifetimes_renew_early_and_rotate_the_ca_with_overlap() {
    let policy = Policy {
        ca_validity: DEFAULT_CA_VALIDITY,
        serving_validity: DEFAULT_SERVING_VALIDITY,
        names: vec!["webhook".into()],
    };
    assert_eq!(policy.propagation_delay(), Duration::from_secs(300));
    assert_eq!(policy.check_interval(), Duration::from_secs(60));
    let day = 24 * 3600 * SECOND;
    let now = SystemTime::now();
    let material = fresh(&policy, now).unwrap();
    assert!(
        plan(&material, &policy, now + 200 * day, false)
            .unwrap()
            .is_none()
    );
    let (renewed, changes) = plan(&material, &policy, now + 250 * day, false)
        .unwrap()
        .unwrap();
    assert_eq!(changes, ["renewed the serving certificate"]);
    assert_eq!(renewed.ca, material.ca);
    // 40 months in, the CA is staged, not yet used.
    let late = now + 1230 * day;
    let (staged, changes) = plan(&material, &policy, late, false).unwrap().unwrap();
    assert!(changes.contains(&"staged a new CA next to the current one"));
    assert_eq!(staged.bundle.len(), 2);
    assert!(is_signed_by(&staged.serving.cert, &material.ca.cert));
    // Published but the CRD does not hold it: still waiting.
    let mut published = staged.clone();
    published.published_at = Some(late);
    assert!(
        plan(&published, &policy, late + 3600 * SECOND, false)
            .unwrap()
            .is_none()
    );
    // Held long enough: promoted, old CA kept in the bundle.
    let (promoted, _) = plan(&published, &policy, late + 3600 * SECOND, true)
        .unwrap()
        .unwrap();
    let next = staged.next_ca.unwrap();
    assert_eq!(promoted.ca, next);
    assert!(promoted.next_ca.is_none());
    assert!(is_signed_by(&promoted.serving.cert, &next.cert));
    assert_eq!(promoted.bundle, staged.bundle);
}

#[test]
fn nothing_changes_twice() {
    let policy = policy(90, 30);
    let now = SystemTime::now();
    let material = fresh(&policy, now).unwrap();
    assert!(plan(&material, &policy, now, false).unwrap().is_none());
    let later = now + 25 * SECOND;
    let (renewed, _) = plan(&material, &policy, later, false).unwrap().unwrap();
    assert!(plan(&renewed, &policy, later, false).unwrap().is_none());
}

#[test]
fn new_names_or_a_foreign_serving_certificate_are_reissued() {
    let mut policy = policy(3600, 600);
    let now = SystemTime::now();
    let material = fresh(&policy, now).unwrap();
    policy.names.push("extra.example".into());
    let (next, changes) = plan(&material, &policy, now, false).unwrap().unwrap();
    assert_eq!(changes, ["re-issued the serving certificate for new names"]);
    assert!(
        inspect_pem(&next.serving.cert)
            .unwrap()
            .names
            .contains("extra.example")
    );

    let other = fresh(&policy, now).unwrap();
    let mut mixed = next.clone();
    mixed.serving = other.serving;
    let (fixed, _) = plan(&mixed, &policy, now, false).unwrap().unwrap();
    assert!(is_signed_by(&fixed.serving.cert, &fixed.ca.cert));

    let mut broken = next;
    broken.serving.cert = "garbage".into();
    let (fixed, changes) = plan(&broken, &policy, now, false).unwrap().unwrap();
    assert_eq!(changes, ["replaced an unreadable serving certificate"]);
    assert!(is_signed_by(&fixed.serving.cert, &fixed.ca.cert));
}

#[test]
fn a_ca_that_cannot_be_published_is_still_replaced_when_it_expires() {
    let policy = policy(90, 30);
    let now = SystemTime::now();
    let mut material = fresh(&policy, now).unwrap();
    // The CRD never takes the new bundle (say, the CRD has no webhook stanza).
    let mut reissued = 0;
    for t in 1..100 {
        if let Some((next, changes)) = plan(&material, &policy, now + t * SECOND, false).unwrap() {
            if changes.iter().any(|c| c.contains("serving")) {
                reissued += 1;
            }
            material = next;
        }
    }
    // Renewals at ~20 s, ~40 s, ~60 s (capped by the CA at 90 s), then no churn until the CA
    // expires and the staged one takes over.
    assert!(reissued <= 5, "{reissued} serving certificates");
    let ca = inspect_pem(&material.ca.cert).unwrap();
    assert!(!ca.expired(now + 100 * SECOND));
}

#[test]
fn expired_cas_leave_the_bundle() {
    let policy = policy(90, 30);
    let now = SystemTime::now();
    let old = fresh(&policy, now).unwrap();
    let mut material = fresh(&policy, now + 60 * SECOND).unwrap();
    material.bundle.insert(0, old.bundle[0].clone());
    let (pruned, _) = plan(&material, &policy, now + 95 * SECOND, false)
        .unwrap()
        .unwrap();
    assert_eq!(pruned.bundle.len(), 1);
}

#[test]
fn pem_blocks_split_and_compare() {
    let policy = policy(90, 30);
    let a = fresh(&policy, SystemTime::now()).unwrap();
    let b = fresh(&policy, SystemTime::now()).unwrap();
    let text = format!("junk\n{}\n\n{}", a.ca.cert, b.ca.cert);
    let blocks = split_certificates(&text);
    assert_eq!(blocks.len(), 2);
    assert_eq!(certificate_set(&text).len(), 2);
    assert!(certificate_set(&text).is_superset(&certificate_set(&a.ca.cert)));
    assert!(certificate_set("not pem").is_empty());
}
