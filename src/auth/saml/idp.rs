//! IdP metadata: entity id, SSO/SLO endpoints per binding, signing certificates.
//!
//! The portal loads the IdP metadata files it is configured with (the AgID
//! registry's IdPs, the CIE IdP, the SPID validator, or — in a test
//! deployment — the `spid-sp-test` IdP). An `md:EntitiesDescriptor`
//! aggregate is accepted by [`IdpMetadata::parse_all`].
//!
//! Trust: response signatures are verified only against the certificates
//! listed here, and by default a certificate outside its validity period is
//! refused ([`IdpTrust::Strict`]). [`IdpTrust::AcceptExpiredTestCertificate`]
//! exists solely for test deployments against `spid-sp-test`, whose bundled
//! IdP certificate expired on 2025-03-08 but still signs its responses; it
//! must be enabled explicitly, per deployment (config key
//! `spid.trust_test_idp_cert = true`), and is never the default.

use super::crypto::{cert_der_from_base64, verify_and_reduce};
use super::errors::SpidError;
use super::xml::{self, child, children, is, text};
use super::{ns, BINDING_POST, BINDING_REDIRECT};

/// How far IdP certificates are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdpTrust {
    /// Production: certificate must be within its validity period.
    #[default]
    Strict,
    /// TEST ONLY (`spid-sp-test`): accept a metadata certificate past its
    /// `notAfter`. The signature itself is still fully verified against the
    /// certificate from the configured metadata file.
    AcceptExpiredTestCertificate,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
}

#[derive(Debug, Clone)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso: Vec<Endpoint>,
    pub slo: Vec<Endpoint>,
    /// DER certificates from `KeyDescriptor use="signing"` (or without `use`).
    pub signing_certs: Vec<Vec<u8>>,
    pub trust: IdpTrust,
}

impl IdpMetadata {
    /// Parses a single `md:EntityDescriptor` with an `IDPSSODescriptor`.
    pub fn parse(xml_text: &str) -> Result<Self, SpidError> {
        let mut all = Self::parse_all(xml_text)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            n => Err(SpidError::IdpMetadata(format!("expected one IdP, found {n}"))),
        }
    }

    /// Parses an `EntityDescriptor` or an `EntitiesDescriptor` aggregate and
    /// returns every entity that has an `IDPSSODescriptor`.
    pub fn parse_all(xml_text: &str) -> Result<Vec<Self>, SpidError> {
        let doc = xml::parse(xml_text).map_err(SpidError::IdpMetadata)?;
        let root = doc.root_element();
        let entities: Vec<_> = if is(&root, ns::MD, "EntityDescriptor") {
            vec![root]
        } else if is(&root, ns::MD, "EntitiesDescriptor") {
            root.descendants().filter(|n| is(n, ns::MD, "EntityDescriptor")).collect()
        } else {
            return Err(SpidError::IdpMetadata("not SAML metadata".into()));
        };
        let mut out = Vec::new();
        for ed in entities {
            let Some(idp) = child(ed, ns::MD, "IDPSSODescriptor") else {
                continue;
            };
            let entity_id = ed.attribute("entityID").unwrap_or("").trim().to_string();
            if entity_id.is_empty() {
                return Err(SpidError::IdpMetadata("EntityDescriptor without entityID".into()));
            }
            let endpoints = |name: &str| -> Vec<Endpoint> {
                children(idp, ns::MD, name)
                    .filter_map(|e| {
                        Some(Endpoint {
                            binding: e.attribute("Binding")?.to_string(),
                            location: e.attribute("Location")?.to_string(),
                        })
                    })
                    .collect()
            };
            let mut signing_certs = Vec::new();
            for kd in children(idp, ns::MD, "KeyDescriptor") {
                if matches!(kd.attribute("use"), Some(u) if u != "signing") {
                    continue;
                }
                for c in kd.descendants().filter(|n| is(n, ns::DS, "X509Certificate")) {
                    signing_certs.push(cert_der_from_base64(&text(c))?);
                }
            }
            if signing_certs.is_empty() {
                return Err(SpidError::IdpMetadata(format!("{entity_id}: no signing certificate")));
            }
            let sso = endpoints("SingleSignOnService");
            if sso.is_empty() {
                return Err(SpidError::IdpMetadata(format!("{entity_id}: no SingleSignOnService")));
            }
            out.push(IdpMetadata {
                entity_id,
                sso,
                slo: endpoints("SingleLogoutService"),
                signing_certs,
                trust: IdpTrust::Strict,
            });
        }
        if out.is_empty() {
            return Err(SpidError::IdpMetadata("no IDPSSODescriptor found".into()));
        }
        Ok(out)
    }

    /// Verifies the metadata signature with `signer_cert_der` (e.g. the AgID
    /// registry's metadata-signing certificate) and parses only signed content.
    pub fn parse_all_signed(xml_text: &str, signer_cert_der: &[u8]) -> Result<Vec<Self>, SpidError> {
        xml::parse(xml_text).map_err(SpidError::IdpMetadata)?; // refuses DTDs first
        let reduced = verify_and_reduce(xml_text, &[signer_cert_der.to_vec()])
            .map_err(|e| SpidError::IdpMetadata(e.to_string()))?;
        Self::parse_all(&reduced)
    }

    /// Explicitly opt in to [`IdpTrust::AcceptExpiredTestCertificate`].
    pub fn trusting_expired_test_certificate(mut self) -> Self {
        self.trust = IdpTrust::AcceptExpiredTestCertificate;
        self
    }

    pub fn sso_url(&self, binding: &str) -> Option<&str> {
        self.sso.iter().find(|e| e.binding == binding).map(|e| e.location.as_str())
    }

    pub fn sso_post(&self) -> Option<&str> {
        self.sso_url(BINDING_POST)
    }

    pub fn sso_redirect(&self) -> Option<&str> {
        self.sso_url(BINDING_REDIRECT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.it">
 <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
  <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>CERT</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
  <md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>bm90IGEgY2VydA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
  <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.it/slo"/>
  <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.it/sso-post"/>
  <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.it/sso-redirect"/>
 </md:IDPSSODescriptor>
</md:EntityDescriptor>"#;

    pub(crate) fn self_signed_b64() -> String {
        use base64::Engine as _;
        use openssl::{asn1::Asn1Time, hash::MessageDigest, pkey::PKey, rsa::Rsa, x509::X509};
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(b.build().to_der().unwrap())
    }

    #[test]
    fn parses_endpoints_and_signing_certs() {
        let md = IdpMetadata::parse(&SAMPLE.replace("CERT", &self_signed_b64())).unwrap();
        assert_eq!(md.entity_id, "https://idp.example.it");
        assert_eq!(md.sso_post(), Some("https://idp.example.it/sso-post"));
        assert_eq!(md.sso_redirect(), Some("https://idp.example.it/sso-redirect"));
        assert_eq!(md.signing_certs.len(), 1);
        assert_eq!(md.trust, IdpTrust::Strict);
        assert_eq!(md.trusting_expired_test_certificate().trust, IdpTrust::AcceptExpiredTestCertificate);
    }

    #[test]
    fn rejects_dtd_and_garbage() {
        let with_dtd = format!(
            "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            SAMPLE.trim_start_matches(r#"<?xml version="1.0"?>"#)
        );
        assert!(IdpMetadata::parse(&with_dtd).is_err());
        assert!(IdpMetadata::parse("<a/>").is_err());
        assert!(IdpMetadata::parse(&SAMPLE.replace("CERT", "!!")).is_err());
    }
}
