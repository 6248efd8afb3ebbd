//! A throwaway certificate authority for TLS tests: a CA, a certificate for
//! `localhost`/`127.0.0.1` usable by servers and clients alike, and a second
//! client certificate from an unrelated CA, written as PEM files to a
//! directory removed when the value is dropped.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files of a test PKI.
pub struct TestPki {
    directory: PathBuf,
    /// The CA that signed [`TestPki::cert`].
    pub ca: PathBuf,
    /// A certificate for `localhost` and `127.0.0.1`, for servers and clients.
    pub cert: PathBuf,
    /// The private key of [`TestPki::cert`].
    pub key: PathBuf,
    /// A certificate signed by a different CA, which [`TestPki::ca`] rejects.
    pub stranger_cert: PathBuf,
    /// The private key of [`TestPki::stranger_cert`].
    pub stranger_key: PathBuf,
}

impl TestPki {
    /// Generates the certificates into a fresh temporary directory.
    pub fn generate() -> anyhow::Result<Self> {
        let directory =
            std::env::temp_dir().join(format!("candor-test-pki-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("creating {}", directory.display()))?;
        let pki = Self {
            ca: directory.join("ca.pem"),
            cert: directory.join("cert.pem"),
            key: directory.join("key.pem"),
            stranger_cert: directory.join("stranger-cert.pem"),
            stranger_key: directory.join("stranger-key.pem"),
            directory,
        };

        let (ca_pem, issuer) = certificate_authority("Candor Test CA")?;
        let (cert_pem, key_pem) = leaf(&issuer)?;
        let (_, stranger_issuer) = certificate_authority("Unrelated Test CA")?;
        let (stranger_cert_pem, stranger_key_pem) = leaf(&stranger_issuer)?;
        write(&pki.ca, &ca_pem)?;
        write(&pki.cert, &cert_pem)?;
        write(&pki.key, &key_pem)?;
        write(&pki.stranger_cert, &stranger_cert_pem)?;
        write(&pki.stranger_key, &stranger_key_pem)?;
        Ok(pki)
    }

    /// The CA certificate as PEM text.
    pub fn ca_pem(&self) -> anyhow::Result<String> {
        read(&self.ca)
    }

    /// The certificate as PEM text.
    pub fn cert_pem(&self) -> anyhow::Result<String> {
        read(&self.cert)
    }

    /// The private key as PEM text.
    pub fn key_pem(&self) -> anyhow::Result<String> {
        read(&self.key)
    }

    /// The directory holding the files.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn certificate_authority(name: &str) -> anyhow::Result<(String, Issuer<'static, KeyPair>)> {
    let key = KeyPair::generate().context("generating a CA key")?;
    let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).context("self-signing the CA")?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

fn leaf(issuer: &Issuer<'static, KeyPair>) -> anyhow::Result<(String, String)> {
    let key = KeyPair::generate().context("generating a key")?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .context("certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params
        .signed_by(&key, issuer)
        .context("signing a certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
