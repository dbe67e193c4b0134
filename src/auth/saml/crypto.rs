//! Keys, certificates and XML signatures.
//!
//! XML-DSig is done by libxmlsec1 via `samael` (feature `xmlsec`):
//! - signing fills a `ds:Signature` template we insert (enveloped,
//!   exclusive C14N, RSA-SHA256, SHA-256 digest, signer certificate in
//!   `KeyInfo`);
//! - verification (`verify_and_reduce`) checks *every* `ds:Signature` in the
//!   document against the IdP certificates only (never against a certificate
//!   carried in the message) and returns the document reduced to the content
//!   the signatures actually cover, which defeats signature wrapping.
//!
//! The HTTP-Redirect binding signature (a detached RSA-SHA256 signature over
//! the query string) is computed with `openssl`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::X509;
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, CryptoProvider, ReduceMode, XmlSec};

use super::errors::SpidError;

pub const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Marker replaced by the signature template in documents to be signed.
pub(crate) const SIGNATURE_MARKER: &str = "<!--spid:signature-->";

/// Signature algorithms accepted from IdPs (SPID: SHA-256 or stronger).
pub const ACCEPTED_ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// The SP signing key and certificate.
#[derive(Clone)]
pub struct SigningCredentials {
    key: PKey<Private>,
    cert: X509,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials").field("cert", &self.cert.subject_name()).finish()
    }
}

impl SigningCredentials {
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, SpidError> {
        let key = PKey::private_key_from_pem(key_pem.as_bytes())
            .map_err(|e| SpidError::Config(format!("SP private key: {e}")))?;
        let cert =
            X509::from_pem(cert_pem.as_bytes()).map_err(|e| SpidError::Config(format!("SP certificate: {e}")))?;
        let cert_key = cert.public_key().map_err(|e| SpidError::Config(e.to_string()))?;
        if !key.public_eq(&cert_key) {
            return Err(SpidError::Config("SP key does not match SP certificate".into()));
        }
        if key.rsa().is_err() {
            return Err(SpidError::Config("SP key must be RSA".into()));
        }
        if key.bits() < 2048 {
            return Err(SpidError::Config("SP RSA key must be at least 2048 bits".into()));
        }
        Ok(Self { key, cert })
    }

    /// Certificate as single-line base64 DER (for `ds:X509Certificate`).
    pub fn cert_base64(&self) -> Result<String, SpidError> {
        let der = self.cert.to_der().map_err(|e| SpidError::Signing(e.to_string()))?;
        Ok(B64.encode(der))
    }

    /// Refuses an expired or not-yet-valid SP certificate.
    pub fn check_for_signing(&self, now: DateTime<Utc>) -> Result<(), SpidError> {
        check_validity(&self.cert, now, chrono::Duration::zero())
            .map_err(|e| SpidError::Config(format!("SP certificate: {e}")))
    }

    fn key_der(&self) -> Result<Vec<u8>, SpidError> {
        // Traditional (PKCS#1) DER: the form xmlsec's "Der" key loader reads.
        self.key.rsa().and_then(|r| r.private_key_to_der()).map_err(|e| SpidError::Signing(e.to_string()))
    }
}

/// `ds:Signature` template for an enveloped signature over `#ref_id`.
pub(crate) fn signature_template(ref_id: &str, cert_b64: &str) -> String {
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">"#,
            r#"<ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{sig}"/>"#,
            r##"<ds:Reference URI="#{id}">"##,
            r#"<ds:Transforms>"#,
            r#"<ds:Transform Algorithm="{env}"/>"#,
            r#"<ds:Transform Algorithm="{c14n}"/>"#,
            r#"</ds:Transforms>"#,
            r#"<ds:DigestMethod Algorithm="{dig}"/>"#,
            r#"<ds:DigestValue></ds:DigestValue>"#,
            r#"</ds:Reference>"#,
            r#"</ds:SignedInfo>"#,
            r#"<ds:SignatureValue></ds:SignatureValue>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"#,
            r#"</ds:Signature>"#
        ),
        c14n = ALG_EXC_C14N,
        sig = ALG_RSA_SHA256,
        env = ALG_ENVELOPED,
        dig = ALG_SHA256,
        id = ref_id,
        cert = cert_b64,
    )
}

/// Signs `xml`, which must contain [`SIGNATURE_MARKER`] exactly once where the
/// `ds:Signature` element goes, and whose element to sign has `ID="ref_id"`.
pub(crate) fn sign_enveloped(xml: &str, ref_id: &str, creds: &SigningCredentials) -> Result<String, SpidError> {
    if xml.matches(SIGNATURE_MARKER).count() != 1 {
        return Err(SpidError::Signing("signature marker missing".into()));
    }
    let tpl = signature_template(ref_id, &creds.cert_base64()?);
    let with_tpl = xml.replace(SIGNATURE_MARKER, &tpl);
    let signed = XmlSec::sign_xml(with_tpl.as_bytes(), &creds.key_der()?)
        .map_err(|e| SpidError::Signing(format!("xmlsec: {e}")))?;
    // libxml serialises with an XML declaration; keep it, it is harmless.
    Ok(signed)
}

/// Detached signature for the HTTP-Redirect binding: RSA-SHA256 over the
/// exact query string `SAMLRequest=…&RelayState=…&SigAlg=…`.
pub(crate) fn sign_redirect_query(signed_part: &str, creds: &SigningCredentials) -> Result<String, SpidError> {
    let mut signer = Signer::new(MessageDigest::sha256(), &creds.key).map_err(|e| SpidError::Signing(e.to_string()))?;
    signer.update(signed_part.as_bytes()).map_err(|e| SpidError::Signing(e.to_string()))?;
    let sig = signer.sign_to_vec().map_err(|e| SpidError::Signing(e.to_string()))?;
    Ok(B64.encode(sig))
}

/// Verifies every `ds:Signature` of `xml` against `certs_der` (the IdP
/// metadata certificates) and returns the document reduced to signed content.
pub(crate) fn verify_and_reduce(xml: &str, certs_der: &[Vec<u8>]) -> Result<String, SpidError> {
    if certs_der.is_empty() {
        return Err(SpidError::Signature("no trusted IdP certificate".into()));
    }
    let certs: Vec<CertificateDer> = certs_der.iter().cloned().map(CertificateDer::from).collect();
    XmlSec::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &certs,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ACCEPTED_ALGORITHMS),
    )
    .map_err(|e| SpidError::Signature(format!("signature verification failed: {e}")))
}

/// Decodes a base64 `ds:X509Certificate` (whitespace tolerated) to DER.
pub fn cert_der_from_base64(b64: &str) -> Result<Vec<u8>, SpidError> {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = B64.decode(clean.as_bytes()).map_err(|e| SpidError::IdpMetadata(format!("certificate base64: {e}")))?;
    X509::from_der(&der).map_err(|e| SpidError::IdpMetadata(format!("certificate DER: {e}")))?;
    Ok(der)
}

/// `Err` with a reason if `cert` is not valid at `now` (± `skew`).
pub(crate) fn check_validity(cert: &X509, now: DateTime<Utc>, skew: chrono::Duration) -> Result<(), String> {
    let early = Asn1Time::from_unix((now + skew).timestamp()).map_err(|e| e.to_string())?;
    let late = Asn1Time::from_unix((now - skew).timestamp()).map_err(|e| e.to_string())?;
    if cert.not_before() > early {
        return Err(format!("certificate not valid before {}", cert.not_before()));
    }
    if cert.not_after() < late {
        return Err(format!("certificate expired on {}", cert.not_after()));
    }
    Ok(())
}

pub(crate) fn check_der_validity(der: &[u8], now: DateTime<Utc>, skew: chrono::Duration) -> Result<(), String> {
    let cert = X509::from_der(der).map_err(|e| e.to_string())?;
    check_validity(&cert, now, skew)
}
