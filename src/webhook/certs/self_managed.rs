//! Self-managed certificates (the Helm default): the operator makes its own CA and serving
//! certificate, keeps them in one Secret in its namespace shared by every replica, injects the
//! CA bundle into the CRD's conversion `caBundle`, and rotates before expiry ([`rotation`]
//! explains the overlap). Nothing is written to the filesystem.
//!
//! Every replica runs the same loop, leader or not; the API server arbitrates. The Secret is
//! created under a fixed name, so when replicas start together one create wins and the others
//! get `AlreadyExists` and read the winner's. Every later change is an update conditional on the
//! resourceVersion the replica read, so two replicas never both rotate: the loser re-reads. The
//! CRD is read before the Secret and patched conditionally on the CRD's resourceVersion, so a
//! replica with a stale Secret cannot put an older bundle back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::authority::rfc3339;
use super::rotation::{self, Material, Policy, certificate_set};
pub use super::secret::{
    BUNDLE_KEY, CA_CERT_KEY, CA_KEY_KEY, NEXT_CA_CERT_KEY, NEXT_CA_KEY_KEY, PUBLISHED_ANNOTATION,
    TLS_CERT_KEY, TLS_KEY_KEY, material_from_secret, secret_for,
};
use super::{CertError, CertStore, PemPair, stopped};
use crate::api::names::FIELD_MANAGER;

/// Where the material lives and what it must cover.
#[derive(Clone, Debug)]
pub struct Settings {
    pub namespace: String,
    pub secret_name: String,
    /// The CRD whose conversion `caBundle` gets the bundle.
    pub crd_name: String,
    pub policy: Policy,
}

/// Why one pass over the Secret and the CRD did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("the Secret changed under us (another replica wrote it); re-reading")]
    Conflict,
}

/// Reads the Secret, creating it when missing (one replica wins, the others read its Secret)
/// and replacing it when it cannot be used. Returns the material and the Secret as stored.
pub async fn load_or_create(
    secrets: &Api<Secret>,
    settings: &Settings,
) -> Result<(Material, Secret), Error> {
    load_or_restore(secrets, settings, None).await
}

/// [`load_or_create`], but a Secret deleted while the replica runs is created again from
/// `known`, the material the replica last saw, rather than from a new CA: the CRD already
/// trusts that CA and every replica serves its certificate, so no conversion fails.
async fn load_or_restore(
    secrets: &Api<Secret>,
    settings: &Settings,
    known: Option<&Material>,
) -> Result<(Material, Secret), Error> {
    for _ in 0..5 {
        match secrets.get_opt(&settings.secret_name).await? {
            Some(secret) => match material_from_secret(&secret) {
                Ok(material) => return Ok((material, secret)),
                Err(problem) => {
                    warn!(
                        secret = %settings.secret_name,
                        %problem,
                        "the webhook certificate Secret cannot be used; replacing it with a new CA and certificate"
                    );
                    let material = rotation::fresh(&settings.policy, SystemTime::now())?;
                    let replacement = secret_for(
                        &material,
                        &settings.secret_name,
                        &settings.namespace,
                        Some(&secret),
                    );
                    match secrets
                        .replace(&settings.secret_name, &PostParams::default(), &replacement)
                        .await
                    {
                        Ok(stored) => return Ok((material, stored)),
                        Err(e) if is_status(&e, 409) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            },
            None => {
                let (material, made) = match known {
                    Some(known) => (
                        known.clone(),
                        "restored the deleted webhook certificate Secret from the CA and certificate this replica serves",
                    ),
                    None => (
                        rotation::fresh(&settings.policy, SystemTime::now())?,
                        "created the webhook CA and serving certificate",
                    ),
                };
                let secret =
                    secret_for(&material, &settings.secret_name, &settings.namespace, None);
                match secrets.create(&PostParams::default(), &secret).await {
                    Ok(stored) => {
                        info!(
                            secret = %settings.secret_name,
                            namespace = %settings.namespace,
                            "{made}"
                        );
                        return Ok((material, stored));
                    }
                    // Another replica created it first: read theirs.
                    Err(e) if is_status(&e, 409) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(Error::Conflict)
}

/// Keeps `store` serving the Secret's certificate, rotates it when due and keeps the CRD's
/// `caBundle` in step, until `stop` turns true. Errors are logged and retried.
pub async fn run(
    client: Client,
    settings: Settings,
    store: Arc<CertStore>,
    mut stop: watch::Receiver<bool>,
) {
    let secrets = Api::<Secret>::namespaced(client.clone(), &settings.namespace);
    let crds = Api::<CustomResourceDefinition>::all(client);
    let selector = format!("metadata.name={}", settings.secret_name);
    let mut events = watcher(
        secrets.clone(),
        watcher::Config::default().fields(&selector),
    )
    .default_backoff()
    .boxed();
    // The CRD too: re-applied without its caBundle (kubectl apply, helm upgrade), it gets the
    // bundle back at once rather than at the next periodic check.
    let crd_selector = format!("metadata.name={}", settings.crd_name);
    let mut crd_events = watcher(
        crds.clone(),
        watcher::Config::default().fields(&crd_selector),
    )
    .default_backoff()
    .boxed();
    let mut warned = Warned::default();
    let interval = settings.policy.check_interval();
    let mut next_check = tokio::time::Instant::now();
    let (mut watching, mut watching_crd) = (true, true);
    let mut known: Option<Material> = None;
    loop {
        let step = tokio::select! {
            _ = tokio::time::sleep_until(next_check) => Step::Check,
            event = events.next(), if watching => Step::Event(event),
            event = crd_events.next(), if watching_crd => match event {
                Some(Ok(watcher::Event::Apply(_))) => Step::Check,
                Some(Err(error)) => {
                    debug!(%error, "CRD watch interrupted");
                    Step::Ignore
                }
                None => {
                    watching_crd = false;
                    Step::Ignore
                }
                Some(Ok(_)) => Step::Ignore,
            },
            _ = stopped(&mut stop) => return,
        };
        match step {
            Step::Ignore => {}
            Step::Check => {
                let outcome = reconcile(
                    &secrets,
                    &crds,
                    &settings,
                    &store,
                    &mut warned,
                    known.as_ref(),
                )
                .await;
                let delay = match outcome {
                    Ok(material) => {
                        known = Some(material);
                        interval
                    }
                    Err(Error::Conflict) => Duration::from_millis(200),
                    Err(error) => {
                        warn!(%error, secret = %settings.secret_name, "webhook certificate check failed; retrying");
                        interval.min(Duration::from_secs(5))
                    }
                };
                next_check = tokio::time::Instant::now() + delay;
            }
            Step::Event(Some(Ok(
                watcher::Event::Apply(secret) | watcher::Event::InitApply(secret),
            ))) => {
                if let Ok(material) = material_from_secret(&secret) {
                    install(&store, &material.serving);
                    known = Some(material);
                }
            }
            Step::Event(Some(Ok(watcher::Event::Delete(_)))) => {
                next_check = tokio::time::Instant::now();
            }
            Step::Event(Some(Err(error))) => debug!(%error, "webhook Secret watch interrupted"),
            Step::Event(Some(Ok(_))) => {}
            // The watch never ends on its own; if it did, the periodic check still runs.
            Step::Event(None) => watching = false,
        }
    }
}

#[allow(clippy::large_enum_variant)] // one per loop turn, moved at once
enum Step {
    Check,
    Event(Option<Result<watcher::Event<Secret>, watcher::Error>>),
    Ignore,
}

/// One pass: read the CRD, then the Secret; rotate if due; serve; keep the CRD in step.
async fn reconcile(
    secrets: &Api<Secret>,
    crds: &Api<CustomResourceDefinition>,
    settings: &Settings,
    store: &CertStore,
    warned: &mut Warned,
    known: Option<&Material>,
) -> Result<Material, Error> {
    let crd = crds.get_opt(&settings.crd_name).await?;
    let (mut material, mut secret) = load_or_restore(secrets, settings, known).await?;
    install(store, &material.serving);

    let crd_bundle = crd.as_ref().and_then(crd_ca_bundle);
    let trusts_next = material.next_ca.as_ref().is_some_and(|next| {
        crd_bundle
            .as_ref()
            .is_some_and(|b| certificate_set(b).is_superset(&certificate_set(&next.cert)))
    });
    if let Some((next, changes)) =
        rotation::plan(&material, &settings.policy, SystemTime::now(), trusts_next)?
    {
        secret = write(secrets, settings, &next, &secret).await?;
        info!(secret = %settings.secret_name, ?changes, "rotated webhook certificates");
        material = next;
        install(store, &material.serving);
    }

    let Some(crd) = crd else {
        warned.once(
            "crd-missing",
            &format!(
                "CRD {} not found; cannot inject the webhook CA bundle yet",
                settings.crd_name
            ),
        );
        return Ok(material);
    };
    if !has_webhook_client_config(&crd) {
        warned.once(
            "no-webhook",
            &format!(
                "CRD {} has no conversion webhook clientConfig; the CA bundle is not injected (install the CRD from the chart)",
                settings.crd_name
            ),
        );
        return Ok(material);
    }
    warned.clear();
    let wanted = material.bundle_pem();
    if crd_bundle.as_deref().map(certificate_set) != Some(certificate_set(&wanted)) {
        patch_ca_bundle(crds, &crd, &wanted).await?;
        info!(
            crd = %settings.crd_name,
            cas = material.bundle.len(),
            "injected the webhook CA bundle into the CRD"
        );
    }
    if material.next_ca.is_some() && material.published_at.is_none() {
        let mut published = material.clone();
        published.published_at = Some(SystemTime::now());
        write(secrets, settings, &published, &secret).await?;
    }
    Ok(material)
}

/// Updates the Secret conditionally on the resourceVersion it was read at.
async fn write(
    secrets: &Api<Secret>,
    settings: &Settings,
    material: &Material,
    read: &Secret,
) -> Result<Secret, Error> {
    let updated = secret_for(
        material,
        &settings.secret_name,
        &settings.namespace,
        Some(read),
    );
    match secrets
        .replace(&settings.secret_name, &PostParams::default(), &updated)
        .await
    {
        Ok(stored) => Ok(stored),
        Err(e) if is_status(&e, 409) => Err(Error::Conflict),
        Err(e) => Err(e.into()),
    }
}

/// Sets the CRD's conversion `caBundle`; a merge patch carrying the resourceVersion that was
/// read, so the API server refuses it if the CRD changed since.
async fn patch_ca_bundle(
    crds: &Api<CustomResourceDefinition>,
    crd: &CustomResourceDefinition,
    bundle: &str,
) -> Result<(), Error> {
    let encoded = serde_json::to_value(ByteString(bundle.as_bytes().to_vec()))
        .map_err(|e| CertError::Generate(e.into()))?;
    let patch = json!({
        "metadata": { "resourceVersion": crd.resource_version() },
        "spec": { "conversion": { "webhook": { "clientConfig": { "caBundle": encoded } } } },
    });
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    match crds
        .patch(&crd.name_any(), &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_status(&e, 409) => Err(Error::Conflict),
        Err(e) => Err(e.into()),
    }
}

fn has_webhook_client_config(crd: &CustomResourceDefinition) -> bool {
    crd.spec
        .conversion
        .as_ref()
        .is_some_and(|c| c.strategy == "Webhook")
        && crd
            .spec
            .conversion
            .as_ref()
            .and_then(|c| c.webhook.as_ref())
            .and_then(|w| w.client_config.as_ref())
            .is_some()
}

/// The CRD's conversion `caBundle` as text.
pub fn crd_ca_bundle(crd: &CustomResourceDefinition) -> Option<String> {
    let bytes = &crd
        .spec
        .conversion
        .as_ref()?
        .webhook
        .as_ref()?
        .client_config
        .as_ref()?
        .ca_bundle
        .as_ref()?
        .0;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn install(store: &CertStore, serving: &PemPair) {
    match store.install(serving) {
        Ok(true) => {
            if let Some(served) = store.served() {
                info!(
                    subject = %served.info.subject,
                    issuer = %served.info.issuer,
                    not_after = %rfc3339(served.info.not_after),
                    "serving the webhook certificate from the Secret"
                );
            }
        }
        Ok(false) => {}
        Err(error) => warn!(%error, "the Secret's serving certificate cannot be served"),
    }
}

fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// Warnings said once until the condition clears, so a 1-minute loop does not flood the log.
#[derive(Default)]
struct Warned(Option<&'static str>);

impl Warned {
    fn once(&mut self, key: &'static str, message: &str) {
        if self.0 != Some(key) {
            warn!("{message}");
            self.0 = Some(key);
        }
    }

    fn clear(&mut self) {
        self.0 = None;
    }
}
