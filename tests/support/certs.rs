//! The certificates of one test cluster, generated for the run: a CA that signs the API
//! server's serving certificate and every client certificate (the API server trusts it as its
//! client CA), and the key that signs ServiceAccount tokens. ECDSA P-256 throughout.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Names the API server's serving certificate is valid for: loopback for the tests, the
/// in-cluster names for anything that follows the `kubernetes` Service.
pub const SERVING_NAMES: [&str; 7] = [
    "127.0.0.1",
    "localhost",
    "10.96.0.1",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct KeyAndCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A signing key pair, as PEM files.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

pub struct Pki {
    dir: PathBuf,
    pub ca_cert: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

fn error(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("cannot create {what}: {e}")
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Pki {
    /// Creates the CA in `dir` (which must exist).
    pub fn create(dir: &Path) -> Result<Self, String> {
        let key = KeyPair::generate().map_err(error("the CA key"))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(error("the CA"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "locust-k8s-operator test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(error("the CA"))?;
        let ca_cert = dir.join("ca.crt");
        write(&ca_cert, &cert.pem())?;
        write(&dir.join("ca.key"), &key.serialize_pem())?;
        Ok(Self {
            dir: dir.to_path_buf(),
            ca_cert,
            issuer: Issuer::new(params, key),
        })
    }

    /// A serving certificate for `names` (IP addresses or DNS names).
    pub fn serving(&self, file: &str, names: &[&str]) -> Result<KeyAndCert, String> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(error(file))?;
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(file, params)
    }

    /// A client certificate: the API server takes the common name as the user name and each
    /// organization as a group.
    pub fn client(
        &self,
        file: &str,
        user: &str,
        group: Option<&str>,
    ) -> Result<KeyAndCert, String> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(error(file))?;
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(group) = group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(file, params)
    }

    /// A bare key pair: the ServiceAccount token signing key (PKCS#8) and its public half,
    /// which the API server needs in a file of its own to verify tokens.
    pub fn signing_key(&self, file: &str) -> Result<SigningKey, String> {
        let key = KeyPair::generate().map_err(error(file))?;
        let paths = SigningKey {
            private: self.dir.join(format!("{file}.key")),
            public: self.dir.join(format!("{file}.pub")),
        };
        write(&paths.private, &key.serialize_pem())?;
        write(&paths.public, &key.public_key_pem())?;
        Ok(paths)
    }

    fn sign(&self, file: &str, mut params: CertificateParams) -> Result<KeyAndCert, String> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().map_err(error(file))?;
        let cert = params.signed_by(&key, &self.issuer).map_err(error(file))?;
        let paths = KeyAndCert {
            cert: self.dir.join(format!("{file}.crt")),
            key: self.dir.join(format!("{file}.key")),
        };
        write(&paths.cert, &cert.pem())?;
        write(&paths.key, &key.serialize_pem())?;
        Ok(paths)
    }
}
