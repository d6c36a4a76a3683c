//! The self-managed certificates as data, and when and how they change. Pure: the caller
//! passes the clock and what it saw in the CRD; [`super::self_managed`] does the I/O.
//!
//! # Rotation without a failed request
//!
//! The API server trusts whatever CAs the CRD's `caBundle` lists; each replica serves the
//! serving certificate the shared Secret holds, picked up a moment after it changes. So:
//!
//! 1. The serving certificate is renewed when less than a third of its life is left. The CA is
//!    unchanged, so the API server trusts old and new alike, whichever a replica serves.
//! 2. When less than a third of the CA's life is left, a new CA is **staged**: added to the
//!    bundle next to the current one, while the serving certificate stays as it is.
//! 3. A replica injects the bundle into the CRD and records in the Secret when it saw the CRD
//!    hold it (`published`). Only once the CRD has held the new CA for the propagation delay is
//!    it **promoted**: it signs a new serving certificate. The old CA stays in the bundle until
//!    it expires, so a replica still serving the old certificate is trusted too.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::authority::{CertificateInfo, inspect_pem, is_signed_by, new_ca, new_serving};
use super::{CertError, PemPair, parse_certificates};

/// Default lifetime of the self-managed CA.
pub const DEFAULT_CA_VALIDITY: Duration = Duration::from_secs(5 * 365 * 24 * 3600);
/// Default lifetime of a serving certificate.
pub const DEFAULT_SERVING_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Longest wait between publishing a staged CA and promoting it.
const MAX_PROPAGATION_DELAY: Duration = Duration::from_secs(300);

/// What the operator keeps in its Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Material {
    /// The CA that signs serving certificates now.
    pub ca: PemPair,
    /// The serving certificate every replica serves.
    pub serving: PemPair,
    /// A CA staged in the bundle, waiting to be promoted.
    pub next_ca: Option<PemPair>,
    /// Every CA the API server must trust, one PEM block each.
    pub bundle: Vec<String>,
    /// When a replica saw the CRD's `caBundle` hold `bundle` (tracked while a CA is staged).
    pub published_at: Option<SystemTime>,
}

impl Material {
    /// The bundle as one PEM text, as it goes into the CRD.
    pub fn bundle_pem(&self) -> String {
        self.bundle.concat()
    }
}

/// How long certificates live and what the serving certificate must name.
#[derive(Clone, Debug)]
pub struct Policy {
    pub ca_validity: Duration,
    pub serving_validity: Duration,
    /// DNS names and IP addresses, the first one also the common name.
    pub names: Vec<String>,
}

impl Policy {
    /// How long the CRD must hold a staged CA before it signs anything: long enough for every
    /// API server to have seen the new `caBundle`.
    pub fn propagation_delay(&self) -> Duration {
        (self.ca_validity / 30).min(MAX_PROPAGATION_DELAY)
    }

    /// How often replicas look at the Secret and the CRD.
    pub fn check_interval(&self) -> Duration {
        (self.serving_validity / 100).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// A new CA and serving certificate.
pub fn fresh(policy: &Policy, now: SystemTime) -> Result<Material, CertError> {
    let ca = new_ca(now, policy.ca_validity)?;
    let serving = new_serving(&ca, &policy.names, now, policy.serving_validity)?;
    Ok(Material {
        bundle: vec![normalized(&ca.cert)],
        ca,
        serving,
        next_ca: None,
        published_at: None,
    })
}

/// The next state of `current` at `now`, with what changed, or `None` when nothing is due.
/// `crd_trusts_next` says whether the CRD's `caBundle` holds the staged CA.
pub fn plan(
    current: &Material,
    policy: &Policy,
    now: SystemTime,
    crd_trusts_next: bool,
) -> Result<Option<(Material, Vec<&'static str>)>, CertError> {
    let mut next = current.clone();
    let mut changes = Vec::new();
    let ca_info = inspect_pem(&next.ca.cert)?;

    if next.next_ca.is_none() && ca_info.due_for_renewal(now) {
        next.next_ca = Some(new_ca(now, policy.ca_validity)?);
        changes.push("staged a new CA next to the current one");
    }
    let mut promoted = false;
    if let Some(staged) = next.next_ca.clone() {
        let published_long_enough = next.published_at.is_some_and(|at| {
            now.duration_since(at).unwrap_or(Duration::ZERO) >= policy.propagation_delay()
        });
        if (published_long_enough && crd_trusts_next) || ca_info.expired(now) {
            next.serving = new_serving(&staged, &policy.names, now, policy.serving_validity)?;
            next.ca = staged;
            next.next_ca = None;
            promoted = true;
            changes.push("promoted the staged CA and issued a serving certificate from it");
        }
    }
    if !promoted && let Some(reason) = serving_renewal(&next, policy, now)? {
        next.serving = new_serving(&next.ca, &policy.names, now, policy.serving_validity)?;
        changes.push(reason);
    }

    let bundle = trusted_bundle(&next, now);
    if bundle != next.bundle {
        next.bundle = bundle;
        next.published_at = None;
        changes.push("updated the CA bundle");
    }
    if next.next_ca.is_none() {
        next.published_at = None;
    }
    Ok((next != *current).then_some((next, changes)))
}

/// Why the serving certificate must be re-issued, if it must.
fn serving_renewal(
    material: &Material,
    policy: &Policy,
    now: SystemTime,
) -> Result<Option<&'static str>, CertError> {
    let Ok(serving) = inspect_pem(&material.serving.cert) else {
        return Ok(Some("replaced an unreadable serving certificate"));
    };
    if !is_signed_by(&material.serving.cert, &material.ca.cert) {
        return Ok(Some(
            "re-issued a serving certificate the current CA did not sign",
        ));
    }
    if !policy.names.iter().all(|name| serving.names.contains(name)) {
        return Ok(Some("re-issued the serving certificate for new names"));
    }
    if serving.due_for_renewal(now) {
        // Capped by the CA's own expiry; renew only if that buys time (no churn near the end).
        let ca = inspect_pem(&material.ca.cert)?;
        let renewed_until = (now + policy.serving_validity).min(ca.not_after);
        if renewed_until > serving.not_after {
            return Ok(Some("renewed the serving certificate"));
        }
    }
    Ok(None)
}

/// The bundle: every CA already in it that has not expired, then the current and the staged
/// CA if missing. Order is kept, so an unchanged set means an unchanged CRD.
fn trusted_bundle(material: &Material, now: SystemTime) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut bundle = Vec::new();
    let required = [Some(&material.ca), material.next_ca.as_ref()];
    let old = material
        .bundle
        .iter()
        .filter(|pem| inspect_pem(pem).is_ok_and(|info: CertificateInfo| !info.expired(now)));
    for pem in old.cloned().chain(
        required
            .into_iter()
            .flatten()
            .map(|ca| normalized(&ca.cert)),
    ) {
        if let Some(der) = first_der(&pem)
            && seen.insert(der)
        {
            bundle.push(pem);
        }
    }
    bundle
}

/// Splits a PEM text into its certificate blocks, each ending with a newline.
pub fn split_certificates(pem: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        }
        if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
        if line == "-----END CERTIFICATE-----"
            && let Some(block) = current.take()
        {
            blocks.push(block);
        }
    }
    blocks
}

/// The DER of each certificate in a PEM text (for comparing bundles).
pub fn certificate_set(pem: &str) -> BTreeSet<Vec<u8>> {
    parse_certificates(pem)
        .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
        .unwrap_or_default()
}

fn normalized(pem: &str) -> String {
    split_certificates(pem)
        .into_iter()
        .next()
        .unwrap_or_default()
}

fn first_der(pem: &str) -> Option<Vec<u8>> {
    parse_certificates(pem).ok()?.first().map(|c| c.to_vec())
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
