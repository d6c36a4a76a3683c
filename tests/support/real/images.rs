//! The locally built images (hack/images/build.sh, cached by `make tools`) and loading them
//! into the node's containerd. Nothing is ever pulled: pods use pinned tags with
//! `IfNotPresent` or `Never`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The image set: key (`locust`, `pause`, `target`, `otlp-receiver`, `exporter`) -> reference
/// and archive, from `images.tsv`.
#[derive(Clone, Debug)]
pub struct Images {
    pub dir: PathBuf,
    pub by_key: BTreeMap<String, (String, PathBuf)>,
}

/// The keys every node loads at start.
pub const NODE_IMAGES: [&str; 5] = ["pause", "locust", "target", "otlp-receiver", "exporter"];

impl Images {
    /// Reads `images.tsv` of the image directory `make tools` built (`TOOL_IMAGES_DIR`).
    pub fn find() -> Result<Self, String> {
        let dir = super::super::tools::directory("images")?;
        let list = dir.join("images.tsv");
        let text = std::fs::read_to_string(&list).map_err(|e| {
            format!(
                "cannot read {}: {e}; run `make tools` (it builds the images)",
                list.display()
            )
        })?;
        let mut by_key = BTreeMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split('\t').collect();
            let [key, reference, file] = fields[..] else {
                return Err(format!("{}: malformed line {line:?}", list.display()));
            };
            by_key.insert(key.to_string(), (reference.to_string(), dir.join(file)));
        }
        for key in NODE_IMAGES {
            if !by_key.contains_key(key) {
                return Err(format!(
                    "{} lists no `{key}` image; run `make tools`",
                    list.display()
                ));
            }
        }
        Ok(Self { dir, by_key })
    }

    /// The reference of an image by key (`locust` -> `locustio/locust:2.46.7`).
    pub fn reference(&self, key: &str) -> String {
        self.by_key
            .get(key)
            .map(|(reference, _)| reference.clone())
            .unwrap_or_else(|| panic!("no image `{key}` in {}", self.dir.display()))
    }
}

/// `ctr` against the node's containerd, in the namespace the CRI uses.
pub fn ctr(socket: &Path) -> Command {
    let mut command = Command::new("ctr");
    command
        .arg("--address")
        .arg(socket)
        .arg("--namespace")
        .arg("k8s.io");
    command
}

/// Imports docker-archives without unpacking them: the CRI unpacks an image when a container
/// first needs it, so a node that never runs an image never pays for it.
pub fn import(socket: &Path, archives: &[&Path]) -> Result<(), String> {
    for archive in archives {
        let started = Instant::now();
        let output = ctr(socket)
            .args(["images", "import", "--no-unpack"])
            .arg(archive)
            .output()
            .map_err(|e| format!("cannot run ctr: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "ctr images import {} failed: {}{}",
                archive.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if std::env::var_os("LOCUST_TEST_SHOW_TIMES").is_some() {
            eprintln!(
                "imported {} in {:.1} s",
                archive.display(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Builds the operator image from the binary these tests run (stripped, its C libraries, CA
/// certificates, user 65532, entrypoint the binary with `run`, as the Containerfile does) and
/// caches its archive by the binary's size and modification time.
pub fn operator_archive(binary: &Path, reference: &str) -> Result<PathBuf, String> {
    let images = Images::find()?;
    let meta = binary
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let cache = images.dir.join("operator");
    let archive = cache.join(format!("{:x}-{}.tar", stamp, meta.len()));
    if archive.exists() {
        return Ok(archive);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("cannot create {cache:?}: {e}"))?;
    // Only the newest build is worth keeping.
    if let Ok(entries) = std::fs::read_dir(&cache) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/images/build.sh");
    let started = Instant::now();
    let output = Command::new(&script)
        .arg("operator")
        .arg(binary)
        .arg(&archive)
        .arg(reference)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "building the operator image failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!(
        "operator image {reference} built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(archive)
}
