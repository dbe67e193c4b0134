//! Errors of the SPID SAML core.
//!
//! Every variant has a stable machine code ([`SpidError::code`], safe to log,
//! to put in metrics and to match on in handlers/tests), a technical
//! `Display` text (for logs only: it may contain IdP-supplied data and must
//! not be shown to users verbatim), and a message for the citizen
//! ([`SpidError::user_message`], words in the locales).
//!
//! SPID requires the SP to show a specific message for the *user anomalies*
//! signalled by the IdP with `StatusMessage` "ErrorCode nr19/20/21/22/23/25"
//! (SPID technical rules, "Tabella messaggi di anomalia", Avviso SPID n.5 v.2).
//! Those texts are `saml.anomaly_<n>` and `saml.fix_<n>` in `locales/it.toml`;
//! keep them aligned with the current AgID text when AgID updates it.

use std::fmt;

use crate::i18n::Text;

/// User anomalies an IdP may report (SPID error codes 19–25, 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpidAnomaly {
    /// 19: repeated submission of wrong credentials.
    RepeatedWrongCredentials,
    /// 20: user has no credentials compatible with the requested level.
    NoCompatibleCredentials,
    /// 21: timeout during authentication.
    Timeout,
    /// 22: user denied consent to release data.
    ConsentDenied,
    /// 23: identity suspended/revoked or credentials locked.
    CredentialsLocked,
    /// 25: user cancelled the authentication.
    Cancelled,
    /// 30: identity of an unexpected type (e.g. professional vs. person).
    UnexpectedIdentityType,
}

impl SpidAnomaly {
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            19 => Self::RepeatedWrongCredentials,
            20 => Self::NoCompatibleCredentials,
            21 => Self::Timeout,
            22 => Self::ConsentDenied,
            23 => Self::CredentialsLocked,
            25 => Self::Cancelled,
            30 => Self::UnexpectedIdentityType,
            _ => return None,
        })
    }

    /// Parses a SPID `StatusMessage` such as `"ErrorCode nr19"`.
    pub fn from_status_message(msg: &str) -> Option<Self> {
        let msg = msg.trim();
        let rest = msg.strip_prefix("ErrorCode nr")?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() || digits.len() != rest.trim_end().len() {
            return None;
        }
        Self::from_code(digits.parse().ok()?)
    }

    pub fn code(self) -> u16 {
        match self {
            Self::RepeatedWrongCredentials => 19,
            Self::NoCompatibleCredentials => 20,
            Self::Timeout => 21,
            Self::ConsentDenied => 22,
            Self::CredentialsLocked => 23,
            Self::Cancelled => 25,
            Self::UnexpectedIdentityType => 30,
        }
    }

    /// The message SPID requires the SP to display for this anomaly, with its
    /// suggested user action when there is one (`saml.anomaly_<n>`,
    /// `saml.fix_<n>` in the locales; the Italian is AgID's text).
    pub fn message(self) -> Text {
        let n = self.code();
        let message = Text::new(format!("saml.anomaly_{n}"));
        if self == Self::Cancelled {
            Text::new("saml.sentence").with_text("message", message)
        } else {
            Text::new("saml.sentence_with_fix")
                .with_text("message", message)
                .with_text("fix", Text::new(format!("saml.fix_{n}")))
        }
    }
}

/// Error of the SPID core. `Display` is technical (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpidError {
    /// The SP configuration is invalid (bad PEM, missing field…).
    Config(String),
    /// IdP metadata unusable.
    IdpMetadata(String),
    /// Signing failed (our side).
    Signing(String),
    /// SAMLResponse not base64 / not well-formed XML / DTD present / too large.
    Malformed(String),
    /// Response or Assertion `Version` is not "2.0".
    Version(&'static str),
    /// Missing or empty `ID` on Response/Assertion, or duplicated IDs.
    Id(String),
    /// `IssueInstant` missing, malformed, or outside the acceptable window.
    IssueInstant(String),
    /// `InResponseTo` missing or not the outstanding request id.
    InResponseTo(String),
    /// `Destination` missing or not our ACS URL.
    Destination(String),
    /// `Status`/`StatusCode` missing or malformed.
    StatusMissing(String),
    /// Non-success status without a recognised SPID anomaly code.
    StatusNotSuccess { code: String, message: Option<String> },
    /// SPID user anomaly (codes 19, 20, 21, 22, 23, 25, 30).
    Anomaly(SpidAnomaly),
    /// Issuer missing, wrong value or wrong Format.
    Issuer(String),
    /// XML signature missing, invalid, unexpected structure or untrusted key.
    Signature(String),
    /// The IdP signing certificate is outside its validity period.
    CertificateExpired(String),
    /// Assertion missing on a successful response.
    AssertionMissing,
    /// Subject/NameID problems.
    Subject(String),
    /// SubjectConfirmation(Data) problems.
    SubjectConfirmation(String),
    /// Conditions (NotBefore/NotOnOrAfter) problems.
    Conditions(String),
    /// Audience missing or not our entity id.
    Audience(String),
    /// AuthnStatement/AuthnContext(ClassRef) missing or unknown.
    AuthnContext(String),
    /// Returned SPID level lower than requested (Comparison="minimum").
    LevelTooLow { requested: u8, got: u8 },
    /// AttributeStatement malformed.
    Attributes(String),
    /// A required attribute (e.g. fiscalNumber) was not released.
    MissingAttribute(&'static str),
    /// Assertion already used (replay).
    Replay(String),
}

impl SpidError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "spid.config",
            Self::IdpMetadata(_) => "spid.idp_metadata",
            Self::Signing(_) => "spid.signing",
            Self::Malformed(_) => "spid.malformed",
            Self::Version(_) => "spid.version",
            Self::Id(_) => "spid.id",
            Self::IssueInstant(_) => "spid.issue_instant",
            Self::InResponseTo(_) => "spid.in_response_to",
            Self::Destination(_) => "spid.destination",
            Self::StatusMissing(_) => "spid.status_missing",
            Self::StatusNotSuccess { .. } => "spid.status_not_success",
            Self::Anomaly(a) => match a {
                SpidAnomaly::RepeatedWrongCredentials => "spid.anomaly_19",
                SpidAnomaly::NoCompatibleCredentials => "spid.anomaly_20",
                SpidAnomaly::Timeout => "spid.anomaly_21",
                SpidAnomaly::ConsentDenied => "spid.anomaly_22",
                SpidAnomaly::CredentialsLocked => "spid.anomaly_23",
                SpidAnomaly::Cancelled => "spid.anomaly_25",
                SpidAnomaly::UnexpectedIdentityType => "spid.anomaly_30",
            },
            Self::Issuer(_) => "spid.issuer",
            Self::Signature(_) => "spid.signature",
            Self::CertificateExpired(_) => "spid.certificate_expired",
            Self::AssertionMissing => "spid.assertion_missing",
            Self::Subject(_) => "spid.subject",
            Self::SubjectConfirmation(_) => "spid.subject_confirmation",
            Self::Conditions(_) => "spid.conditions",
            Self::Audience(_) => "spid.audience",
            Self::AuthnContext(_) => "spid.authn_context",
            Self::LevelTooLow { .. } => "spid.level_too_low",
            Self::Attributes(_) => "spid.attributes",
            Self::MissingAttribute(_) => "spid.missing_attribute",
            Self::Replay(_) => "spid.replay",
        }
    }

    /// Suggested HTTP status for the ACS handler: 403 for anomalies and
    /// authentication refusals, 500 for our own misconfiguration, 400 for
    /// everything wrong in the received message.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Config(_) | Self::IdpMetadata(_) | Self::Signing(_) => 500,
            Self::Anomaly(_) | Self::StatusNotSuccess { .. } | Self::LevelTooLow { .. } => 403,
            Self::Replay(_) => 403,
            _ => 400,
        }
    }

    /// Message for the citizen (`saml.*` in the locales).
    pub fn user_message(&self) -> Text {
        match self {
            Self::Anomaly(a) => a.message(),
            Self::LevelTooLow { requested, .. } => Text::new("saml.level_too_low").with("level", requested),
            Self::StatusNotSuccess { .. } => Text::new("saml.not_success"),
            Self::Replay(_) => Text::new("saml.replayed"),
            Self::IssueInstant(_) | Self::Conditions(_) | Self::SubjectConfirmation(_) => Text::new("saml.expired"),
            Self::MissingAttribute(_) => Text::new("saml.missing_attribute"),
            Self::Config(_) | Self::IdpMetadata(_) | Self::Signing(_) => Text::new("saml.unavailable"),
            _ => Text::new("saml.invalid"),
        }
    }
}

impl fmt::Display for SpidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.code())?;
        match self {
            Self::Config(s)
            | Self::IdpMetadata(s)
            | Self::Signing(s)
            | Self::Malformed(s)
            | Self::Id(s)
            | Self::IssueInstant(s)
            | Self::InResponseTo(s)
            | Self::Destination(s)
            | Self::StatusMissing(s)
            | Self::Issuer(s)
            | Self::Signature(s)
            | Self::CertificateExpired(s)
            | Self::Subject(s)
            | Self::SubjectConfirmation(s)
            | Self::Conditions(s)
            | Self::Audience(s)
            | Self::AuthnContext(s)
            | Self::Attributes(s)
            | Self::Replay(s) => f.write_str(s),
            Self::Version(w) => write!(f, "{w} Version is not 2.0"),
            Self::StatusNotSuccess { code, message } => {
                write!(f, "status {code} ({})", message.as_deref().unwrap_or("-"))
            }
            Self::Anomaly(a) => write!(f, "ErrorCode nr{} ({a:?})", a.code()),
            Self::AssertionMissing => f.write_str("successful response without Assertion"),
            Self::LevelTooLow { requested, got } => {
                write!(f, "requested SpidL{requested}, got SpidL{got}")
            }
            Self::MissingAttribute(a) => write!(f, "attribute {a} not released"),
        }
    }
}

impl std::error::Error for SpidError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_parsing_and_codes() {
        for (n, code) in [
            (19, "spid.anomaly_19"),
            (20, "spid.anomaly_20"),
            (21, "spid.anomaly_21"),
            (22, "spid.anomaly_22"),
            (23, "spid.anomaly_23"),
            (25, "spid.anomaly_25"),
        ] {
            let a = SpidAnomaly::from_status_message(&format!("ErrorCode nr{n}")).unwrap();
            assert_eq!(a.code(), n);
            let e = SpidError::Anomaly(a);
            assert_eq!(e.code(), code);
            assert_eq!(e.http_status(), 403);
            let words = crate::i18n::Catalogues::for_tests();
            let shown = words.text("it", &e.user_message());
            assert!(shown.starts_with(&words.get("it", &format!("saml.anomaly_{n}"))), "{shown}");
        }
        assert!(SpidAnomaly::from_status_message("ErrorCode nr24").is_none());
        assert!(SpidAnomaly::from_status_message("ErrorCode nr19x").is_none());
        assert!(SpidAnomaly::from_status_message("nr19").is_none());
    }

    #[test]
    fn distinct_codes() {
        let all: Vec<&str> = [19u16, 20, 21, 22, 23, 25, 30]
            .iter()
            .map(|c| SpidError::Anomaly(SpidAnomaly::from_code(*c).unwrap()).code())
            .collect();
        let mut d = all.clone();
        d.dedup();
        assert_eq!(all.len(), d.len());
    }
}
