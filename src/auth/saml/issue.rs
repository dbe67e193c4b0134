//! The identity-provider side of SAML, for the development IdP only
//! (`auth::dev_idp`): read an `AuthnRequest`, issue a signed `Response` in the
//! SPID profile. A real IdP is never this code; the service provider validates
//! what comes out of it with exactly the checks it applies to AgID's IdPs.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use chrono::{DateTime, Duration, Utc};
use openssl::{
    asn1::Asn1Time,
    bn::BigNum,
    hash::MessageDigest,
    pkey::PKey,
    rsa::Rsa,
    x509::{X509NameBuilder, X509},
};

use super::{
    crypto::{sign_enveloped, SigningCredentials, SIGNATURE_MARKER},
    new_saml_id, ns, saml_instant,
    xml::{self, child, esc},
    SpidError, SpidLevel,
};

/// A fresh RSA-2048 key and a self-signed certificate valid for `days` days,
/// as PEM (key, certificate).
pub fn self_signed_pem(common_name: &str, days: u32) -> Result<(String, String), SpidError> {
    let fail = |e: openssl::error::ErrorStack| SpidError::Config(e.to_string());
    let key = PKey::from_rsa(Rsa::generate(2048).map_err(fail)?).map_err(fail)?;
    let mut name = X509NameBuilder::new().map_err(fail)?;
    name.append_entry_by_text("CN", common_name).map_err(fail)?;
    let name = name.build();
    let mut b = X509::builder().map_err(fail)?;
    b.set_version(2).map_err(fail)?;
    let serial = BigNum::from_u32(rand::random::<u32>() >> 1).map_err(fail)?;
    let serial = serial.to_asn1_integer().map_err(fail)?;
    b.set_serial_number(&serial).map_err(fail)?;
    b.set_subject_name(&name).map_err(fail)?;
    b.set_issuer_name(&name).map_err(fail)?;
    b.set_pubkey(&key).map_err(fail)?;
    let now = Utc::now().timestamp();
    let (from, to) = (
        Asn1Time::from_unix(now - 86400).map_err(fail)?,
        Asn1Time::from_unix(now + i64::from(days) * 86400).map_err(fail)?,
    );
    b.set_not_before(&from).map_err(fail)?;
    b.set_not_after(&to).map_err(fail)?;
    b.sign(&key, MessageDigest::sha256()).map_err(fail)?;
    let key_pem = String::from_utf8(key.private_key_to_pem_pkcs8().map_err(fail)?).expect("PEM is ASCII");
    let cert_pem = String::from_utf8(b.build().to_pem().map_err(fail)?).expect("PEM is ASCII");
    Ok((key_pem, cert_pem))
}

/// What an `AuthnRequest` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    pub id: String,
    pub issuer: String,
    /// `AssertionConsumerServiceURL`, when the SP named it…
    pub acs_url: Option<String>,
    /// …or the index of one in its metadata (what SPID SPs send).
    pub acs_index: Option<u16>,
    pub level: SpidLevel,
}

/// Reads a base64 `SAMLRequest` of the HTTP-POST binding (the signature is
/// not checked: this IdP trusts every SP on its own host).
pub fn read_authn_request(saml_request_b64: &str) -> Result<ReceivedRequest, SpidError> {
    let compact: String = saml_request_b64.chars().filter(|c| !c.is_whitespace()).collect();
    let raw = B64.decode(compact.as_bytes()).map_err(|e| SpidError::Malformed(format!("base64: {e}")))?;
    let text = String::from_utf8(raw).map_err(|_| SpidError::Malformed("not UTF-8".into()))?;
    let doc = xml::parse(&text).map_err(|e| SpidError::Malformed(format!("xml: {e}")))?;
    let root = doc.root_element();
    if !xml::is(&root, ns::SAMLP, "AuthnRequest") {
        return Err(SpidError::Malformed("not an AuthnRequest".into()));
    }
    let id = root.attribute("ID").ok_or_else(|| SpidError::Malformed("AuthnRequest without ID".into()))?;
    let issuer = child(root, ns::SAML, "Issuer").map(xml::text).unwrap_or_default();
    let level = root
        .descendants()
        .find(|n| xml::is(n, ns::SAML, "AuthnContextClassRef"))
        .and_then(|n| SpidLevel::from_uri(&xml::text(n)))
        .unwrap_or(SpidLevel::L2);
    Ok(ReceivedRequest {
        id: id.to_string(),
        issuer,
        acs_url: root.attribute("AssertionConsumerServiceURL").map(str::to_string),
        acs_index: root.attribute("AssertionConsumerServiceIndex").and_then(|i| i.parse().ok()),
        level,
    })
}

/// Who the IdP asserts, and to whom.
pub struct Assertion<'a> {
    pub idp_entity_id: &'a str,
    pub in_response_to: &'a str,
    pub acs_url: &'a str,
    pub audience: &'a str,
    pub level: SpidLevel,
    /// SPID attribute names and values (`fiscalNumber` as `TINIT-…`).
    pub attributes: &'a [(&'a str, String)],
    pub now: DateTime<Utc>,
}

/// A `Response` with its assertion, both signed, base64 (as the HTTP-POST
/// binding carries it).
pub fn signed_response(a: &Assertion<'_>, creds: &SigningCredentials) -> Result<String, SpidError> {
    let (ii, noa) = (saml_instant(a.now), saml_instant(a.now + Duration::minutes(5)));
    let (response_id, assertion_id, name_id) = (new_saml_id(), new_saml_id(), new_saml_id());
    let attributes: String = a
        .attributes
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<saml:Attribute Name="{}"><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{}</saml:AttributeValue></saml:Attribute>"#,
                esc(name),
                esc(value)
            )
        })
        .collect();
    let (iss, irt, acs, aud) = (esc(a.idp_entity_id), esc(a.in_response_to), esc(a.acs_url), esc(a.audience));
    let assertion = format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" Version="2.0" IssueInstant="{ii}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{iss}</saml:Issuer>{SIGNATURE_MARKER}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" NameQualifier="{iss}">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{irt}" NotOnOrAfter="{noa}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{ii}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{aud}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{ii}" SessionIndex="{session}"><saml:AuthnContext><saml:AuthnContextClassRef>{acr}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>"#,
        session = new_saml_id(),
        acr = a.level.uri(),
    );
    let assertion = without_declaration(&sign_enveloped(&assertion, &assertion_id, creds)?);
    let response = format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{response_id}" Version="2.0" IssueInstant="{ii}" Destination="{acs}" InResponseTo="{irt}"><saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{iss}</saml:Issuer>{SIGNATURE_MARKER}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"#
    );
    Ok(B64.encode(sign_enveloped(&response, &response_id, creds)?))
}

fn without_declaration(xml: &str) -> String {
    let xml = xml.trim();
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map(|end| rest[end + 2..].trim().to_string()).unwrap_or_default(),
        None => xml.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::saml::{
        idp::{Endpoint, IdpMetadata, IdpTrust},
        test_support::{sp_config, KeyPair, SP_ACS, SP_ENTITY},
        Expectations, NoReplayCheck, BINDING_POST,
    };

    /// What this IdP issues passes the service provider's full validation.
    #[test]
    fn an_issued_response_passes_the_sp_validation() {
        let (key, cert) = self_signed_pem("Sportello dev IdP", 30).unwrap();
        let creds = SigningCredentials::from_pem(&key, &cert).unwrap();
        let idp = IdpMetadata {
            entity_id: "http://localhost/sviluppo/idp".into(),
            sso: vec![Endpoint { binding: BINDING_POST.into(), location: "http://localhost/sso".into() }],
            slo: vec![],
            signing_certs: vec![X509::from_pem(cert.as_bytes()).unwrap().to_der().unwrap()],
            trust: IdpTrust::Strict,
        };
        let sp = sp_config(&KeyPair::generate("sp", -1, 30));
        let request = crate::auth::saml::authn_request(
            &sp,
            &idp,
            &crate::auth::saml::RequestOptions::new(SpidLevel::L2, "relay"),
        )
        .unwrap();
        let form = request.post_form_html.unwrap();
        let b64 = form.split("name=\"SAMLRequest\" value=\"").nth(1).unwrap().split('"').next().unwrap();
        let received = read_authn_request(b64).unwrap();
        assert_eq!((received.id.as_str(), received.level), (request.id.as_str(), SpidLevel::L2));
        assert_eq!((received.acs_url.as_deref(), received.acs_index), (None, Some(0)));
        assert_eq!(received.issuer, SP_ENTITY);
        let attributes = [("fiscalNumber", "TINIT-RSSMRA80A01H501U".to_string()), ("name", "Mario".to_string())];
        let response = signed_response(
            &Assertion {
                idp_entity_id: &idp.entity_id,
                in_response_to: &received.id,
                acs_url: SP_ACS,
                audience: SP_ENTITY,
                level: SpidLevel::L2,
                attributes: &attributes,
                now: Utc::now(),
            },
            &creds,
        )
        .unwrap();
        let expectations =
            Expectations::new(&request.id, request.issue_instant, SP_ACS, SP_ENTITY, &idp, SpidLevel::L2);
        let identity = crate::auth::saml::validate_response(&response, &expectations, &NoReplayCheck).unwrap();
        assert_eq!(identity.fiscal_number, "RSSMRA80A01H501U");
        assert_eq!(identity.name.as_deref(), Some("Mario"));
    }
}
