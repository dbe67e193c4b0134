//! SPID / CIE SAML 2.0 service-provider core.
//!
//! This module is deliberately free of HTTP-framework and database types
//! (no axum, no sqlx): every function takes plain data and returns plain
//! data, so it can be unit-tested in isolation and driven by the portal's
//! handlers, which own sessions, cookies, CSRF and persistence.
//!
//! What lives here and why:
//! - [`config`]: per-tenant SP configuration ([`SpConfig`]), validated once.
//! - [`metadata`]: the signed SP metadata required by SPID "Avviso 29 v3"
//!   (public-sector profile: `spid:IPACode`, `spid:Public`, …).
//! - [`request`]: signed `AuthnRequest`s (HTTP-POST form without inline
//!   script, for the portal's CSP; HTTP-Redirect with detached signature).
//! - [`idp`]: parsing of IdP metadata (entity id, SSO endpoints, signing certs).
//! - [`response`]: full validation of the IdP `Response` as the SPID rules and
//!   the `spid-sp-test` response suite require, including XML-signature
//!   checks that resist signature-wrapping (XSW) attacks.
//! - [`errors`]: one error type with stable codes and the Italian messages
//!   that SPID requires for the user anomalies 19, 20, 21, 22, 23, 25 (and 30).
//!
//! Cryptography: XML-DSig signing and verification use libxmlsec1 through the
//! `samael` crate (feature `xmlsec`), which also reduces a verified document
//! to only its signed content. Canonicalisation is never reimplemented here.
//! RSA signatures for the HTTP-Redirect binding use `openssl` directly.
//!
//! Proven against AgID's `spid-sp-test` (metadata, AuthnRequest and response
//! suites): see `spid_sp_test.sh` beside this file.
//!
//! Integration notes for the HTTP layer:
//! - signing/verification are blocking C calls (a few ms): call them from
//!   `tokio::task::spawn_blocking`; cache [`sp_metadata`] (it is deterministic);
//! - at login store `{request.id, issue_instant, level, idp_entity_id}` in the
//!   pending-login state, consume it once at the ACS, build [`Expectations`];
//! - the ACS POST comes cross-site from the IdP: a cookie used to find the
//!   pending login must be `SameSite=None; Secure` (or use the opaque
//!   RelayState as the key);
//! - after success insert `assertion_id` (kept until `not_on_or_after`) with
//!   `INSERT … ON CONFLICT DO NOTHING` and refuse the login if nothing was
//!   inserted;
//! - answer 200 only on success; otherwise show [`SpidError::user_message`]
//!   with [`SpidError::http_status`] (spid-sp-test checks only the status);
//! - [`IdpTrust::AcceptExpiredTestCertificate`] is for a test deployment
//!   against spid-sp-test only (tenant key `spid.trust_test_idp_cert`).

pub mod config;
pub mod crypto;
pub mod errors;
pub mod idp;
pub mod issue;
pub mod metadata;
pub mod request;
pub mod response;
mod xml;

pub use config::{AttributeConsumingService, MetadataProfile, Organization, SpConfig};
pub use errors::SpidError;
pub use idp::{IdpMetadata, IdpTrust};
pub use metadata::sp_metadata;
pub use request::{authn_request, AuthnRequest, Binding, RequestOptions};
pub use response::{validate_response, Expectations, NoReplayCheck, ReplayCheck, SpidIdentity};

use chrono::{DateTime, SecondsFormat, Utc};

/// SAML namespaces used throughout.
pub mod ns {
    pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const SPID: &str = "https://spid.gov.it/saml-extensions";
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
}

pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// SPID authentication level (`https://www.spid.gov.it/SpidL1..3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpidLevel {
    L1 = 1,
    L2 = 2,
    L3 = 3,
}

impl SpidLevel {
    pub fn uri(self) -> &'static str {
        match self {
            SpidLevel::L1 => "https://www.spid.gov.it/SpidL1",
            SpidLevel::L2 => "https://www.spid.gov.it/SpidL2",
            SpidLevel::L3 => "https://www.spid.gov.it/SpidL3",
        }
    }

    /// Parses an `AuthnContextClassRef`; only the exact SPID URIs are accepted
    /// (the pre-2017 `urn:oasis:…:SpidL1` form is rejected, as SPID requires).
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            "https://www.spid.gov.it/SpidL1" => Some(SpidLevel::L1),
            "https://www.spid.gov.it/SpidL2" => Some(SpidLevel::L2),
            "https://www.spid.gov.it/SpidL3" => Some(SpidLevel::L3),
            _ => None,
        }
    }

    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// SAML timestamp: UTC, whole seconds, `Z` suffix (avoids IdPs that choke on
/// fractional seconds).
pub fn saml_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Strict SAML `xs:dateTime` parser: `YYYY-MM-DDThh:mm:ss[.frac]Z` only.
pub fn parse_saml_instant(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || *b.last()? != b'Z' {
        return None;
    }
    let shape_ok = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    let digits_ok = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].iter().all(|&i| b[i].is_ascii_digit());
    if !shape_ok || !digits_ok {
        return None;
    }
    let rest = &s[19..s.len() - 1];
    if !rest.is_empty() {
        let frac = rest.strip_prefix('.')?;
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// A fresh SAML ID: starts with `_` (an NCName never starts with a digit).
pub fn new_saml_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert!(parse_saml_instant("2024-05-01T10:00:00Z").is_some());
        assert!(parse_saml_instant("2024-05-01T10:00:00.123456Z").is_some());
        assert!(parse_saml_instant("2018-09-04").is_none());
        assert!(parse_saml_instant("2018/09/10").is_none());
        assert!(parse_saml_instant("2024-05-01T10:00:00+01:00").is_none());
        assert!(parse_saml_instant("2024-05-01T10:00:00.Z").is_none());
        let t = parse_saml_instant("2024-05-01T10:00:00.9Z").unwrap();
        assert_eq!(saml_instant(t), "2024-05-01T10:00:00Z");
    }

    #[test]
    fn levels() {
        assert_eq!(SpidLevel::from_uri(SpidLevel::L2.uri()), Some(SpidLevel::L2));
        assert!(SpidLevel::from_uri("urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL1").is_none());
        assert!(SpidLevel::L3 > SpidLevel::L1);
        assert!(new_saml_id().starts_with('_'));
    }
}

#[cfg(test)]
pub(crate) mod test_support;
