//! What `SMTP_URL` says: where the server is, how to secure the connection
//! and which credentials to present.

use lettre::transport::smtp::authentication::Credentials;
use percent_encoding::percent_decode_str;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP (`smtp://host`, or `?tls=none`).
    None,
    /// STARTTLS when the server offers it, plain otherwise (`?tls=opportunistic`).
    Opportunistic,
    /// STARTTLS or fail (`?tls=required`, or `starttls`).
    Required,
    /// TLS from the first byte (`smtps://host`, default port 465).
    Implicit,
}

/// The parsed `SMTP_URL`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<Credentials>,
    /// Certificate authorities trusted besides the public web roots
    /// (`SMTP_CA_FILE`).
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("authenticated", &self.credentials.is_some())
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl SmtpSettings {
    /// Parses `smtp://[user:password@]host[:port][?tls=none|opportunistic|required]`
    /// or `smtps://[user:password@]host[:port]`. User and password are
    /// percent-decoded. The error never repeats the URL (it may hold a password).
    pub fn parse(value: &str) -> Result<Self, String> {
        let url =
            url::Url::parse(value).map_err(|error| format!("SMTP_URL is not a URL: {error}"))?;
        let implicit = match url.scheme() {
            "smtp" => false,
            "smtps" => true,
            other => return Err(format!("SMTP_URL scheme {other:?} is not smtp or smtps")),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or("SMTP_URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(if implicit { 465 } else { 25 });
        let mut tls = if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::None
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "none") if !implicit => tls = TlsMode::None,
                ("tls", "opportunistic") if !implicit => tls = TlsMode::Opportunistic,
                ("tls", "required" | "starttls") if !implicit => tls = TlsMode::Required,
                ("tls", _) => {
                    return Err(
                        "SMTP_URL tls must be none, opportunistic or required (smtp:// only)"
                            .to_owned(),
                    );
                }
                (other, _) => return Err(format!("SMTP_URL has an unknown parameter {other:?}")),
            }
        }
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |text: &str| {
                percent_decode_str(text)
                    .decode_utf8()
                    .map(|decoded| decoded.into_owned())
                    .map_err(|_| "SMTP_URL credentials are not UTF-8".to_owned())
            };
            Some(Credentials::new(
                decode(url.username())?,
                decode(url.password().unwrap_or_default())?,
            ))
        };
        Ok(Self {
            host,
            port,
            tls,
            credentials,
            extra_roots: Vec::new(),
        })
    }

    /// Adds the certificate authorities of a PEM file (`SMTP_CA_FILE`).
    pub fn trust_ca_file(&mut self, path: &std::path::Path) -> Result<(), String> {
        let roots = CertificateDer::pem_file_iter(path)
            .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
            .map_err(|error| format!("SMTP_CA_FILE {}: {error}", path.display()))?;
        if roots.is_empty() {
            return Err(format!(
                "SMTP_CA_FILE {} holds no PEM certificate",
                path.display()
            ));
        }
        self.extra_roots.extend(roots);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_url_with_port() {
        let settings = SmtpSettings::parse("smtp://127.0.0.1:1025").unwrap();
        assert_eq!((settings.host.as_str(), settings.port), ("127.0.0.1", 1025));
        assert_eq!(settings.tls, TlsMode::None);
        assert!(settings.credentials.is_none());
    }

    #[test]
    fn smtps_defaults_to_465_with_decoded_credentials() {
        let settings = SmtpSettings::parse("smtps://user%40x:p%2Fss@mail.example.org").unwrap();
        assert_eq!(settings.port, 465);
        assert_eq!(settings.tls, TlsMode::Implicit);
        let expected = Credentials::new("user@x".to_owned(), "p/ss".to_owned());
        assert_eq!(settings.credentials, Some(expected));
    }

    #[test]
    fn starttls_is_chosen_by_parameter() {
        let settings = SmtpSettings::parse("smtp://mail.example.org:587?tls=required").unwrap();
        assert_eq!(settings.tls, TlsMode::Required);
        assert!(SmtpSettings::parse("smtp://h?tls=maybe").is_err());
        assert!(SmtpSettings::parse("smtps://h?tls=none").is_err());
        assert!(SmtpSettings::parse("http://h").is_err());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let mut settings = SmtpSettings::parse("smtps://h").unwrap();
        let path = std::env::temp_dir().join(format!("candor-empty-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let error = settings.trust_ca_file(&path).unwrap_err();
        assert!(error.contains("SMTP_CA_FILE"), "{error}");
        assert!(
            settings
                .trust_ca_file(std::path::Path::new("/nonexistent/ca.pem"))
                .is_err()
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn errors_do_not_repeat_the_password() {
        let error = SmtpSettings::parse("smtp://u:secret@h?x=1").unwrap_err();
        assert!(!error.contains("secret"), "{error}");
    }
}
