//! Amazon SNS HTTP(S) deliveries, the way Amazon SES events arrive: the
//! JSON envelope, the string SNS signs, and the signature check.
//!
//! SNS signs, with the private key of the certificate at `SigningCertURL`,
//! the canonical string its documentation defines ("Verifying the
//! signatures of Amazon SNS messages"): for a `Notification` the fields
//! `Message`, `MessageId`, `Subject` (only when present), `Timestamp`,
//! `TopicArn`, `Type`; for a `SubscriptionConfirmation` or
//! `UnsubscribeConfirmation` the fields `Message`, `MessageId`,
//! `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type` — each as its
//! name, a newline, its value, a newline. `SignatureVersion` 1 is
//! SHA1withRSA, 2 SHA256withRSA (PKCS #1 v1.5). Where the certificate may
//! come from is [`super::credentials::SnsCertificates`]'s business.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
};
use serde::Deserialize;

use super::Malformed;

/// The header SNS sets to the message's type.
pub const MESSAGE_TYPE_HEADER: &str = "x-amz-sns-message-type";

/// What an SNS delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A message published to the topic (for SES, an event).
    Notification,
    /// The first delivery to a new subscription: visit `SubscribeURL`.
    SubscriptionConfirmation,
    /// The subscription was deleted.
    UnsubscribeConfirmation,
}

/// An SNS HTTP delivery body.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Envelope {
    /// `Notification`, `SubscriptionConfirmation` or
    /// `UnsubscribeConfirmation`.
    #[serde(rename = "Type")]
    pub kind_name: String,
    /// SNS's id of this message, unique per published message.
    pub message_id: String,
    /// The topic it was published to.
    pub topic_arn: String,
    /// A notification's subject, when the publisher set one.
    #[serde(default)]
    pub subject: Option<String>,
    /// The payload: for SES, the event JSON.
    pub message: String,
    /// When SNS published it (ISO 8601).
    pub timestamp: String,
    /// `1` (SHA1withRSA) or `2` (SHA256withRSA).
    pub signature_version: String,
    /// Base64 signature over [`Envelope::string_to_sign`].
    pub signature: String,
    /// Where the signing certificate is (PEM).
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    /// Confirmations: the URL that confirms the subscription.
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    /// Confirmations: the token in `SubscribeURL`.
    #[serde(default)]
    pub token: Option<String>,
}

/// Why an SNS signature is refused (all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRejected {
    #[error("SignatureVersion {0:?} is not 1 or 2")]
    UnknownVersion(String),
    #[error("Signature is not base64")]
    NotBase64,
    #[error("the signature does not verify")]
    Invalid,
}

impl Envelope {
    /// Parses a delivery body; every field the signature covers must be
    /// there.
    pub fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let envelope: Self = serde_json::from_slice(body)
            .map_err(|error| Malformed::new(format!("the body is not an SNS message: {error}")))?;
        let kind = envelope.kind()?;
        if kind != Kind::Notification
            && (envelope.subscribe_url.is_none() || envelope.token.is_none())
        {
            return Err(Malformed::new(format!(
                "a {} without SubscribeURL or Token",
                envelope.kind_name
            )));
        }
        Ok(envelope)
    }

    /// The delivery's kind.
    pub fn kind(&self) -> Result<Kind, Malformed> {
        match self.kind_name.as_str() {
            "Notification" => Ok(Kind::Notification),
            "SubscriptionConfirmation" => Ok(Kind::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Ok(Kind::UnsubscribeConfirmation),
            other => Err(Malformed::new(format!(
                "unknown SNS message Type {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    /// The canonical string SNS signs for this kind of message.
    pub fn string_to_sign(&self) -> Result<String, Malformed> {
        let mut fields: Vec<(&str, &str)> = vec![
            ("Message", self.message.as_str()),
            ("MessageId", self.message_id.as_str()),
        ];
        match self.kind()? {
            Kind::Notification => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject.as_str()));
                }
                fields.push(("Timestamp", self.timestamp.as_str()));
            }
            Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => {
                fields.push((
                    "SubscribeURL",
                    self.subscribe_url.as_deref().unwrap_or_default(),
                ));
                fields.push(("Timestamp", self.timestamp.as_str()));
                fields.push(("Token", self.token.as_deref().unwrap_or_default()));
            }
        }
        fields.push(("TopicArn", self.topic_arn.as_str()));
        fields.push(("Type", self.kind_name.as_str()));
        Ok(fields
            .into_iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect())
    }

    /// Checks the signature with the signing certificate's RSA public key
    /// (`RSAPublicKey` DER, as in the certificate's SubjectPublicKeyInfo).
    pub fn verify(&self, rsa_public_key: &[u8]) -> Result<(), SignatureRejected> {
        let algorithm = match self.signature_version.as_str() {
            "1" => &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &RSA_PKCS1_2048_8192_SHA256,
            other => {
                return Err(SignatureRejected::UnknownVersion(
                    other.chars().take(8).collect(),
                ));
            }
        };
        let signature = BASE64
            .decode(self.signature.trim())
            .map_err(|_| SignatureRejected::NotBase64)?;
        let signed = self
            .string_to_sign()
            .map_err(|_| SignatureRejected::Invalid)?;
        UnparsedPublicKey::new(algorithm, rsa_public_key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| SignatureRejected::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTIFICATION: &str =
        include_str!("../../tests/fixtures/delivery_reports/sns_notification.json");
    const CONFIRMATION: &str =
        include_str!("../../tests/fixtures/delivery_reports/sns_subscription_confirmation.json");

    #[test]
    fn a_notification_signs_its_subject_only_when_present() {
        let envelope = Envelope::parse(NOTIFICATION.as_bytes()).unwrap();
        assert_eq!(envelope.kind().unwrap(), Kind::Notification);
        assert_eq!(
            envelope.string_to_sign().unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
        let mut without = envelope.clone();
        without.subject = None;
        assert!(!without.string_to_sign().unwrap().contains("Subject"));
    }

    #[test]
    fn a_confirmation_signs_its_url_and_token() {
        let mut envelope = Envelope::parse(CONFIRMATION.as_bytes()).unwrap();
        assert_eq!(envelope.kind().unwrap(), Kind::SubscriptionConfirmation);
        // The message's own newline stays inside the value.
        let signed = envelope.string_to_sign().unwrap();
        assert!(signed.starts_with("Message\nYou have chosen to subscribe"));
        assert!(signed.contains("MyTopic.\nTo confirm the subscription"));
        envelope.message = "one line".to_owned();
        let signed = envelope.string_to_sign().unwrap();
        let names: Vec<&str> = signed.lines().step_by(2).collect();
        assert_eq!(
            names,
            [
                "Message",
                "MessageId",
                "SubscribeURL",
                "Timestamp",
                "Token",
                "TopicArn",
                "Type"
            ]
        );
    }

    #[test]
    fn malformed_envelopes_say_why() {
        let cases = [
            ("[]", "not an SNS message"),
            (r#"{"Type":"Notification"}"#, "not an SNS message"),
        ];
        for (body, expected) in cases {
            let error = Envelope::parse(body.as_bytes()).unwrap_err();
            assert!(error.0.contains(expected), "{error}");
        }
        let odd = NOTIFICATION.replace("\"Notification\"", "\"Gossip\"");
        let error = Envelope::parse(odd.as_bytes()).unwrap_err();
        assert!(error.0.contains("unknown SNS message Type"), "{error}");
        let bare = CONFIRMATION.replace("\"Token\"", "\"Tolkien\"");
        let error = Envelope::parse(bare.as_bytes()).unwrap_err();
        assert!(error.0.contains("without SubscribeURL or Token"), "{error}");
    }

    #[test]
    fn unknown_versions_and_garbage_signatures_are_refused() {
        let mut envelope = Envelope::parse(NOTIFICATION.as_bytes()).unwrap();
        envelope.signature_version = "3".to_owned();
        assert!(matches!(
            envelope.verify(b""),
            Err(SignatureRejected::UnknownVersion(_))
        ));
        envelope.signature_version = "1".to_owned();
        assert_eq!(
            envelope.verify(b"not a key"),
            Err(SignatureRejected::NotBase64)
        );
        envelope.signature = BASE64.encode([0u8; 256]);
        assert_eq!(
            envelope.verify(b"not a key"),
            Err(SignatureRejected::Invalid)
        );
    }
}
