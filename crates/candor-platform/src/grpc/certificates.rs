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

/// The callers a certificate (DER) names by a DNS subject alternative name
/// or its common name equal to the caller's name (`forum`, `frontend`, …),
/// each once. Empty for a certificate that cannot be parsed.
pub fn caller_names(der: &[u8]) -> Vec<crate::auth::Caller> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, certificate)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|name| name.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = certificate.subject_alternative_name() {
        names.extend(
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                }),
        );
    }
    let mut callers: Vec<crate::auth::Caller> =
        names.iter().filter_map(|name| name.parse().ok()).collect();
    callers.sort_unstable();
    callers.dedup();
    callers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Caller;

    fn der(cert_pem: &str) -> Vec<u8> {
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).unwrap();
        pem.contents
    }

    #[test]
    fn a_certificate_names_the_callers_of_its_san_or_common_name() {
        let ca = CertificateAuthority::generate("test CA").unwrap();
        let forum = ca
            .issue(
                "Candor forum",
                &["forum".to_owned(), "localhost".to_owned()],
            )
            .unwrap();
        assert_eq!(caller_names(&der(&forum.cert_pem)), vec![Caller::Forum]);
        let by_common_name = ca.issue("frontend", &["web.example".to_owned()]).unwrap();
        assert_eq!(
            caller_names(&der(&by_common_name.cert_pem)),
            vec![Caller::FrontEnd]
        );
        let nobody = ca.issue("someone", &["localhost".to_owned()]).unwrap();
        assert!(caller_names(&der(&nobody.cert_pem)).is_empty());
        let both = ca
            .issue("x", &["account".to_owned(), "forum".to_owned()])
            .unwrap();
        assert_eq!(
            caller_names(&der(&both.cert_pem)),
            vec![Caller::Account, Caller::Forum]
        );
        assert!(caller_names(b"not a certificate").is_empty());
    }
}
