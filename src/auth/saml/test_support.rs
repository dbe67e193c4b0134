//! Test helpers: throw-away keys/certificates generated at test time (nothing
//! is committed), a sample SP configuration, and a minimal "IdP" that builds
//! and signs SPID responses so every validation branch can be exercised.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};

use super::config::{AttributeConsumingService, Organization, SpConfig};
use super::crypto::{sign_enveloped, SigningCredentials, SIGNATURE_MARKER};
use super::idp::{Endpoint, IdpMetadata, IdpTrust};
use super::{saml_instant, BINDING_POST, BINDING_REDIRECT};

pub struct KeyPair {
    pub key: PKey<Private>,
    pub cert: X509,
}

impl KeyPair {
    /// Self-signed RSA-2048 certificate valid from `days_from` to `days_to`
    /// (relative to today; negative = past).
    pub fn generate(cn: &str, days_from: i64, days_to: i64) -> Self {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        let now = Utc::now().timestamp();
        b.set_not_before(&Asn1Time::from_unix(now + days_from * 86400).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + days_to * 86400).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        Self { key, cert: b.build() }
    }

    pub fn key_pem(&self) -> String {
        String::from_utf8(self.key.private_key_to_pem_pkcs8().unwrap()).unwrap()
    }

    pub fn cert_pem(&self) -> String {
        String::from_utf8(self.cert.to_pem().unwrap()).unwrap()
    }

    pub fn creds(&self) -> SigningCredentials {
        SigningCredentials::from_pem(&self.key_pem(), &self.cert_pem()).unwrap()
    }
}

pub const SP_ENTITY: &str = "https://valmora.example.it/accesso/spid/metadata";
pub const SP_ACS: &str = "https://valmora.example.it/accesso/spid/acs";
pub const IDP_ENTITY: &str = "https://idp.example.it";

pub fn sp_config(kp: &KeyPair) -> SpConfig {
    SpConfig {
        entity_id: SP_ENTITY.into(),
        acs_urls: vec![SP_ACS.into()],
        slo_url: "https://valmora.example.it/accesso/spid/slo".into(),
        key_pem: kp.key_pem(),
        cert_pem: kp.cert_pem(),
        organization: Organization {
            name: "Comune di Valmora".into(),
            display_name: "Comune di Valmora".into(),
            url: "https://valmora.example.it".into(),
        },
        ipa_code: "c_x000".into(),
        contact_email: "protocollo@valmora.example.it".into(),
        contact_phone: Some("+390612345678".into()),
        attribute_sets: vec![AttributeConsumingService::default_citizen_set()],
        profile: super::MetadataProfile::Spid,
    }
}

pub fn idp_metadata(kp: &KeyPair, trust: IdpTrust) -> IdpMetadata {
    IdpMetadata {
        entity_id: IDP_ENTITY.into(),
        sso: vec![
            Endpoint { binding: BINDING_POST.into(), location: format!("{IDP_ENTITY}/sso") },
            Endpoint { binding: BINDING_REDIRECT.into(), location: format!("{IDP_ENTITY}/sso") },
        ],
        slo: vec![],
        signing_certs: vec![kp.cert.to_der().unwrap()],
        trust,
    }
}

/// Knobs of a synthetic IdP response.
#[derive(Clone)]
pub struct Resp {
    pub request_id: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: String,
    pub recipient: String,
    pub audience: String,
    pub issuer: String,
    pub acr: String,
    pub not_on_or_after: DateTime<Utc>,
    pub status: String,
    pub sign_response: bool,
    pub sign_assertion: bool,
    pub fiscal_number: String,
}

impl Resp {
    pub fn good(request_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            request_id: request_id.into(),
            issue_instant: now,
            destination: SP_ACS.into(),
            recipient: SP_ACS.into(),
            audience: SP_ENTITY.into(),
            issuer: IDP_ENTITY.into(),
            acr: "https://www.spid.gov.it/SpidL2".into(),
            not_on_or_after: now + Duration::minutes(5),
            status:
                r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#
                    .into(),
            sign_response: true,
            sign_assertion: true,
            fiscal_number: "TINIT-RSSMRA80A01H501U".into(),
        }
    }

    pub fn xml(&self, signer: &KeyPair) -> String {
        let ii = saml_instant(self.issue_instant);
        let noa = saml_instant(self.not_on_or_after);
        let rid = "_resp1";
        let aid = "_assert1";
        let assertion = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{ii}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{iss}</saml:Issuer>{asig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" NameQualifier="{iss}">_nameid</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{irt}" NotOnOrAfter="{noa}" Recipient="{rcp}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{ii}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{ii}" SessionIndex="_sess"><saml:AuthnContext><saml:AuthnContextClassRef>{acr}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="fiscalNumber"><saml:AttributeValue>{cf}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="name"><saml:AttributeValue>Mario</saml:AttributeValue></saml:Attribute><saml:Attribute Name="familyName"><saml:AttributeValue>Rossi</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            iss = self.issuer,
            asig = if self.sign_assertion { SIGNATURE_MARKER } else { "" },
            irt = self.request_id,
            rcp = self.recipient,
            aud = self.audience,
            acr = self.acr,
            cf = self.fiscal_number,
        );
        let success = self.status.contains("status:Success");
        let assertion = if success && self.sign_assertion {
            strip_decl(&sign_enveloped(&assertion, aid, &signer.creds()).unwrap())
        } else if success {
            assertion
        } else {
            String::new()
        };
        let response = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{ii}" Destination="{dest}" InResponseTo="{irt}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{iss}</saml:Issuer>{rsig}{status}{assertion}</samlp:Response>"#,
            dest = self.destination,
            irt = self.request_id,
            iss = self.issuer,
            rsig = if self.sign_response { SIGNATURE_MARKER } else { "" },
            status = self.status,
        );
        if self.sign_response {
            sign_enveloped(&response, rid, &signer.creds()).unwrap()
        } else {
            response
        }
    }

    pub fn b64(&self, signer: &KeyPair) -> String {
        B64.encode(self.xml(signer))
    }
}

fn strip_decl(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..].trim().to_string(),
        None => s.to_string(),
    }
}
