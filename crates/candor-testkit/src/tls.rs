//! A throwaway certificate authority for TLS tests: a CA, a certificate for
//! `localhost`/`127.0.0.1` usable by servers and clients alike, and a second
//! client certificate from an unrelated CA, and one certificate per caller
//! (naming `forum`, `operator`, … as well as `localhost`), written as PEM
//! files to a directory removed when the value is dropped.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use candor_platform::auth::Caller;
use candor_platform::grpc::certificates::CertificateAuthority;

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

        let hosts = ["localhost".to_owned(), "127.0.0.1".to_owned()];
        let ca = CertificateAuthority::generate("Candor Test CA")?;
        let cert = ca.issue("localhost", &hosts)?;
        let stranger =
            CertificateAuthority::generate("Unrelated Test CA")?.issue("localhost", &hosts)?;
        write(&pki.ca, &ca.cert_pem)?;
        write(&pki.cert, &cert.cert_pem)?;
        write(&pki.key, &cert.key_pem)?;
        write(&pki.stranger_cert, &stranger.cert_pem)?;
        write(&pki.stranger_key, &stranger.key_pem)?;
        for caller in Caller::ALL {
            let names = [caller.name().to_owned(), hosts[0].clone(), hosts[1].clone()];
            let issued = ca.issue(&format!("Candor test {caller}"), &names)?;
            let (cert, key) = pki.caller_cert(caller);
            write(&cert, &issued.cert_pem)?;
            write(&key, &issued.key_pem)?;
        }
        Ok(pki)
    }

    /// The certificate and key of `caller`, signed by [`TestPki::ca`], for
    /// its name, `localhost` and `127.0.0.1` (so a service serves with it
    /// too); with mutual TLS it identifies the caller.
    pub fn caller_cert(&self, caller: Caller) -> (PathBuf, PathBuf) {
        (
            self.directory.join(format!("{caller}-cert.pem")),
            self.directory.join(format!("{caller}-key.pem")),
        )
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

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
