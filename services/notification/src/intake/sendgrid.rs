//! `POST /delivery-reports/sendgrid`: SendGrid's Event Webhook, a JSON
//! array of events, signed (SendGrid's "signed event webhook") with ECDSA
//! P-256 over the timestamp header's bytes followed by the raw body.
//!
//! What counts: a `bounce` of type `bounce` (or without a type) is a hard
//! bounce and of type `blocked` a soft bounce; a `dropped` event for a
//! `Bounced Address` is a hard bounce and for a `Spam Reporting Address` a
//! complaint (SendGrid would not send to either again); a `spamreport` is
//! a complaint. `deferred` is ignored: SendGrid is still retrying that
//! email itself (for up to 72 hours) and posts a `bounce` when it gives
//! up, so queueing it again here would send it twice. Every other event
//! (`processed`, `delivered`, `open`, …) is ignored. The Message-ID is the
//! event's `smtp-id` (absent on engagement events such as `spamreport`,
//! which then apply to the last email sent to the address); the report id
//! is `sg_event_id`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::Deserialize;
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::{Malformed, Parsed, clip_detail, message_id, recipient, report_id};
use crate::domain::reports::{DeliveryReport, ReportKind};

/// The `source` of these reports.
pub const SOURCE: &str = "sendgrid";

/// The header carrying the base64 DER ECDSA signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";

/// The header carrying the signing time, Unix seconds, signed too.
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// How old (or how far ahead, for clock skew) a signed timestamp may be:
/// a captured request cannot be replayed later than this.
pub const MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(5 * 60);

/// The verification key SendGrid shows for a signed event webhook.
#[derive(Clone)]
pub struct WebhookKey {
    /// The uncompressed P-256 point of the SubjectPublicKeyInfo.
    point: Vec<u8>,
}

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookKey { P-256 }")
    }
}

/// Why a request's signature is refused (all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRejected {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signed timestamp is more than 5 minutes from now")]
    Stale,
    #[error("the signature does not verify")]
    Invalid,
}

impl WebhookKey {
    /// Parses `SENDGRID_WEBHOOK_PUBLIC_KEY`: the base64 DER
    /// SubjectPublicKeyInfo SendGrid shows (PEM armour allowed) of a P-256
    /// key.
    pub fn parse(value: &str) -> Result<Self, String> {
        let base64: String = value
            .lines()
            .filter(|line| !line.trim_start().starts_with("-----"))
            .flat_map(|line| line.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = BASE64
            .decode(base64)
            .map_err(|_| "must be the base64 public key SendGrid shows".to_owned())?;
        let (rest, info) = SubjectPublicKeyInfo::from_der(&der)
            .map_err(|_| "is not a DER SubjectPublicKeyInfo".to_owned())?;
        if !rest.is_empty() {
            return Err("has bytes after the SubjectPublicKeyInfo".to_owned());
        }
        let curve = info
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok());
        if info.algorithm.algorithm != OID_KEY_TYPE_EC_PUBLIC_KEY || curve != Some(OID_EC_P256) {
            return Err("is not an ECDSA P-256 public key".to_owned());
        }
        let point = info.subject_public_key.data.to_vec();
        if point.len() != 65 || point[0] != 4 {
            return Err("is not an uncompressed P-256 point".to_owned());
        }
        Ok(Self { point })
    }

    /// Checks `signature` (the header's base64 DER) over `timestamp` and
    /// `body`, and that `timestamp` is within [`MAX_TIMESTAMP_SKEW`] of
    /// `now`.
    pub fn verify(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), SignatureRejected> {
        let signature = signature.ok_or(SignatureRejected::Missing(SIGNATURE_HEADER))?;
        let timestamp = timestamp.ok_or(SignatureRejected::Missing(TIMESTAMP_HEADER))?;
        let signature = BASE64
            .decode(signature.trim())
            .map_err(|_| SignatureRejected::Malformed(SIGNATURE_HEADER))?;
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureRejected::Malformed(TIMESTAMP_HEADER))?;
        let mut signed = Vec::with_capacity(timestamp.len() + body.len());
        signed.extend_from_slice(timestamp.as_bytes());
        signed.extend_from_slice(body);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(&signed, &signature)
            .map_err(|_| SignatureRejected::Invalid)?;
        let skew = (now.timestamp() - seconds).unsigned_abs();
        if skew > MAX_TIMESTAMP_SKEW.as_secs() {
            return Err(SignatureRejected::Stale);
        }
        Ok(())
    }
}

/// One webhook event; only what the intake reads.
#[derive(Debug, Deserialize)]
struct Event {
    event: Option<String>,
    email: Option<String>,
    timestamp: Option<i64>,
    #[serde(rename = "smtp-id")]
    smtp_id: Option<String>,
    sg_event_id: Option<String>,
    #[serde(rename = "type")]
    bounce_type: Option<String>,
    reason: Option<String>,
    status: Option<String>,
}

/// The reports in a webhook body.
pub fn parse(body: &[u8]) -> Result<Parsed, Malformed> {
    let events: Vec<Event> = serde_json::from_slice(body).map_err(|error| {
        Malformed::new(format!("the body is not a JSON array of events: {error}"))
    })?;
    let mut parsed = Parsed::default();
    for (index, event) in events.into_iter().enumerate() {
        let position = index + 1;
        let Some(kind) = kind_of(&event) else {
            parsed.ignored += 1;
            continue;
        };
        let event_id = event
            .sg_event_id
            .as_deref()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| Malformed::new(format!("event {position}: no sg_event_id")))?;
        let address = event
            .email
            .as_deref()
            .and_then(recipient)
            .ok_or_else(|| Malformed::new(format!("event {position}: no email address")))?;
        let detail = match (&event.reason, &event.status) {
            (Some(reason), Some(status)) => format!("{reason} ({status})"),
            (Some(reason), None) => reason.clone(),
            (None, Some(status)) => status.clone(),
            (None, None) => format!("sendgrid: {}", event.event.as_deref().unwrap_or_default()),
        };
        parsed.reports.push(DeliveryReport {
            source: SOURCE.to_owned(),
            report_id: report_id(&[event_id]),
            kind,
            message_id: event.smtp_id.as_deref().and_then(message_id),
            recipient: Some(address),
            detail: clip_detail(&detail),
            occurred_at: event
                .timestamp
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0)),
        });
    }
    Ok(parsed)
}

/// What an event reports, or `None` for an event the intake ignores.
fn kind_of(event: &Event) -> Option<ReportKind> {
    match event.event.as_deref()? {
        "bounce" => match event.bounce_type.as_deref() {
            Some("blocked") => Some(ReportKind::SoftBounce),
            _ => Some(ReportKind::HardBounce),
        },
        "dropped" => match event.reason.as_deref() {
            Some("Bounced Address") => Some(ReportKind::HardBounce),
            Some("Spam Reporting Address") => Some(ReportKind::Complaint),
            _ => None,
        },
        "spamreport" => Some(ReportKind::Complaint),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

    const EVENTS: &[u8] =
        include_bytes!("../../tests/fixtures/delivery_reports/sendgrid_events.json");

    /// The DER prefix of a P-256 SubjectPublicKeyInfo before its point.
    const P256_SPKI_PREFIX: &[u8] = &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];

    fn key_pair() -> (EcdsaKeyPair, String) {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &random).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &random)
                .unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        (pair, BASE64.encode(spki))
    }

    fn sign(pair: &EcdsaKeyPair, timestamp: &str, body: &[u8]) -> String {
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        BASE64.encode(pair.sign(&SystemRandom::new(), &signed).unwrap())
    }

    #[test]
    fn the_documented_events_map_to_reports() {
        let parsed = parse(EVENTS).unwrap();
        let summary: Vec<(ReportKind, &str, Option<&str>)> = parsed
            .reports
            .iter()
            .map(|report| {
                (
                    report.kind,
                    report.report_id.as_str(),
                    report.message_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    ReportKind::HardBounce,
                    "6g4ZI7SA-xmRDv57GoPIPw==",
                    Some("14c5d75ce93.dfd.64b469@ismtpd-555")
                ),
                (
                    ReportKind::SoftBounce,
                    "Bl0cK3dxmRDv57GoPIPw==",
                    Some("14c5d75ce93.dfd.64b470@ismtpd-555")
                ),
                (
                    ReportKind::HardBounce,
                    "zmzJhfJgAfUSOW80yEbPyw==",
                    Some("14c5d75ce93.dfd.64b471@ismtpd-555")
                ),
                (ReportKind::Complaint, "37nvH5QBz858KGVYCM4uOA==", None),
            ]
        );
        assert_eq!(
            parsed.ignored, 5,
            "processed, deferred, delivered, open, unsubscribe"
        );
        assert_eq!(parsed.reports[0].detail, "500 unknown recipient (5.0.0)");
        assert_eq!(
            parsed.reports[0].recipient.as_deref(),
            Some("example@test.com")
        );
        assert_eq!(
            parsed.reports[0].occurred_at.unwrap().timestamp(),
            1513299569
        );
    }

    #[test]
    fn malformed_bodies_say_why() {
        let cases: [(&[u8], &str); 3] = [
            (b"{}", "not a JSON array of events"),
            (
                br#"[{"event":"bounce","email":"a@example.org"}]"#,
                "event 1: no sg_event_id",
            ),
            (
                br#"[{"event":"spamreport","sg_event_id":"x"}]"#,
                "event 1: no email address",
            ),
        ];
        for (body, expected) in cases {
            let error = parse(body).unwrap_err();
            assert!(error.0.contains(expected), "{error}");
        }
    }

    #[test]
    fn signatures_verify_over_timestamp_and_body() {
        let (pair, public_key) = key_pair();
        let key = WebhookKey::parse(&public_key).unwrap();
        let now = Utc::now();
        let timestamp = now.timestamp().to_string();
        let signature = sign(&pair, &timestamp, EVENTS);
        assert_eq!(
            key.verify(Some(&signature), Some(&timestamp), EVENTS, now),
            Ok(())
        );
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{public_key}\n-----END PUBLIC KEY-----\n");
        assert!(WebhookKey::parse(&pem).is_ok());

        let mut tampered = EVENTS.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            key.verify(Some(&signature), Some(&timestamp), &tampered, now),
            Err(SignatureRejected::Invalid)
        );
        let later = (now.timestamp() + 1).to_string();
        assert_eq!(
            key.verify(Some(&signature), Some(&later), EVENTS, now),
            Err(SignatureRejected::Invalid)
        );
        let old = (now.timestamp() - 301).to_string();
        let old_signature = sign(&pair, &old, EVENTS);
        assert_eq!(
            key.verify(Some(&old_signature), Some(&old), EVENTS, now),
            Err(SignatureRejected::Stale)
        );
        assert_eq!(
            key.verify(None, Some(&timestamp), EVENTS, now),
            Err(SignatureRejected::Missing(SIGNATURE_HEADER))
        );
        assert_eq!(
            key.verify(Some("%%%"), Some(&timestamp), EVENTS, now),
            Err(SignatureRejected::Malformed(SIGNATURE_HEADER))
        );
        let (_, other_key) = key_pair();
        assert_eq!(
            WebhookKey::parse(&other_key).unwrap().verify(
                Some(&signature),
                Some(&timestamp),
                EVENTS,
                now
            ),
            Err(SignatureRejected::Invalid)
        );
    }

    #[test]
    fn keys_must_be_p256() {
        assert!(WebhookKey::parse("not base64!").is_err());
        assert!(WebhookKey::parse(&BASE64.encode(b"not der")).is_err());
    }
}
