//! Certificates for trying TLS without a real PKI: a throwaway certificate
//! authority and certificates it signs, usable by servers and clients alike
//! (so also for mutual TLS). `candorctl dev-certs` and the test kit use them;
//! production certificates come from the operator's own PKI.

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority that can sign [`Certificate`]s.
pub struct CertificateAuthority {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, PEM.
pub struct Certificate {
    pub cert_pem: String,
    pub key_pem: String,
}

impl CertificateAuthority {
    /// A new self-signed CA called `name`.
    pub fn generate(name: &str) -> anyhow::Result<Self> {
        let key = KeyPair::generate().context("generating a CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).context("self-signing the CA")?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A certificate for `hosts` (DNS names or IP addresses) with extended
    /// key usages serverAuth and clientAuth.
    pub fn issue(&self, common_name: &str, hosts: &[String]) -> anyhow::Result<Certificate> {
        let key = KeyPair::generate().context("generating a key")?;
        let mut params = CertificateParams::new(hosts.to_vec()).context("certificate hosts")?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing a certificate")?;
        Ok(Certificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
