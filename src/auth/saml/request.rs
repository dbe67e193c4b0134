//! Signed SPID `AuthnRequest` (HTTP-POST or HTTP-Redirect binding).
//!
//! SPID rules applied: `Version="2.0"`, `IssueInstant` in whole UTC seconds,
//! `Destination` = the IdP SSO URL of the chosen binding, `ForceAuthn="true"`
//! for levels above L1, `AssertionConsumerServiceIndex` (so the IdP takes the
//! ACS URL from our metadata), `AttributeConsumingServiceIndex`, `Issuer`
//! with `NameQualifier` and entity `Format`, transient `NameIDPolicy`, and
//! `RequestedAuthnContext Comparison="minimum"` with the SPID level URI.
//!
//! The caller must keep `id`, `issue_instant`, `level` and the IdP entity id
//! with the user's pending-login state: they are the [`Expectations`] the
//! response is validated against.
//!
//! HTTP-POST: the portal's CSP forbids inline scripts, so
//! [`AuthnRequest::post_form_html`] is a plain form with a visible submit
//! button; pass `form_script_src` to add an external script that submits it
//! automatically (e.g. `/static/js/spid-autosubmit.js` containing
//! `document.getElementById('spid-authn-form').submit();`).
//!
//! [`Expectations`]: super::response::Expectations

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use flate2::write::DeflateEncoder;
use flate2::Compression;
use std::io::Write as _;

use super::config::SpConfig;
use super::crypto::{sign_enveloped, sign_redirect_query, ALG_RSA_SHA256, SIGNATURE_MARKER};
use super::errors::SpidError;
use super::idp::IdpMetadata;
use super::xml::esc;
use super::{new_saml_id, saml_instant, SpidLevel, NAMEID_ENTITY, NAMEID_TRANSIENT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// HTTP-POST: enveloped XML signature, self-posting HTML form.
    Post,
    /// HTTP-Redirect: deflated request, detached query-string signature.
    Redirect,
}

/// Options for [`authn_request`].
#[derive(Debug, Clone)]
pub struct RequestOptions<'a> {
    pub level: SpidLevel,
    /// `AssertionConsumerServiceIndex` (index into `SpConfig::acs_urls`).
    pub acs_index: u16,
    /// `AttributeConsumingServiceIndex` (index into `SpConfig::attribute_sets`).
    pub attribute_index: u16,
    pub binding: Binding,
    /// Opaque RelayState (SPID: must not be intelligible — no URLs). ≤ 80 bytes.
    pub relay_state: &'a str,
    pub now: DateTime<Utc>,
    /// External script that auto-submits the POST form (CSP-friendly).
    pub form_script_src: Option<&'a str>,
    /// The words of the POST form page, in the visitor's language.
    pub form_words: FormWords<'a>,
}

/// What the self-posting page says while it moves on (empty: nothing shown
/// but the button's arrow).
#[derive(Debug, Clone, Default)]
pub struct FormWords<'a> {
    pub lang: &'a str,
    pub title: &'a str,
    pub text: &'a str,
    pub button: &'a str,
}

impl<'a> RequestOptions<'a> {
    pub fn new(level: SpidLevel, relay_state: &'a str) -> Self {
        Self {
            level,
            acs_index: 0,
            attribute_index: 0,
            binding: Binding::Post,
            relay_state,
            now: Utc::now(),
            form_script_src: None,
            form_words: FormWords::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthnRequest {
    pub id: String,
    pub issue_instant: DateTime<Utc>,
    pub level: SpidLevel,
    pub idp_entity_id: String,
    /// IdP SSO URL the request is sent to.
    pub destination: String,
    pub binding: Binding,
    /// The request XML (signed for POST; unsigned for Redirect, whose
    /// signature is in the query string).
    pub xml: String,
    pub relay_state: String,
    /// HTTP-POST: HTML page to return (200, `text/html`).
    pub post_form_html: Option<String>,
    /// HTTP-Redirect: URL for a 302 `Location`.
    pub redirect_url: Option<String>,
}

/// Builds a signed AuthnRequest for `idp`.
pub fn authn_request(cfg: &SpConfig, idp: &IdpMetadata, opts: &RequestOptions<'_>) -> Result<AuthnRequest, SpidError> {
    if cfg.acs_url_for(opts.acs_index).is_none() {
        return Err(SpidError::Config(format!("no ACS with index {}", opts.acs_index)));
    }
    if cfg.attribute_sets.get(opts.attribute_index as usize).is_none() {
        return Err(SpidError::Config(format!("no AttributeConsumingService with index {}", opts.attribute_index)));
    }
    if opts.relay_state.is_empty() || opts.relay_state.len() > 80 || opts.relay_state.contains("http") {
        return Err(SpidError::Config("RelayState must be a short opaque token".into()));
    }
    let binding_uri = match opts.binding {
        Binding::Post => super::BINDING_POST,
        Binding::Redirect => super::BINDING_REDIRECT,
    };
    let destination = idp
        .sso_url(binding_uri)
        .ok_or_else(|| SpidError::IdpMetadata(format!("{}: no SSO for {binding_uri}", idp.entity_id)))?
        .to_string();
    let creds = cfg.credentials()?;
    let id = new_saml_id();
    let now = opts.now;
    let force = if opts.level > SpidLevel::L1 { r#" ForceAuthn="true""# } else { "" };
    let sig_slot = if opts.binding == Binding::Post { SIGNATURE_MARKER } else { "" };
    let xml = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
            r#"ID="{id}" Version="2.0" IssueInstant="{ii}" Destination="{dest}"{force} "#,
            r#"AssertionConsumerServiceIndex="{acs}" AttributeConsumingServiceIndex="{attr}">"#,
            r#"<saml:Issuer NameQualifier="{eid}" Format="{fmt}">{eid}</saml:Issuer>"#,
            "{sig}",
            r#"<samlp:NameIDPolicy Format="{transient}"/>"#,
            r#"<samlp:RequestedAuthnContext Comparison="minimum">"#,
            r#"<saml:AuthnContextClassRef>{acr}</saml:AuthnContextClassRef>"#,
            r#"</samlp:RequestedAuthnContext>"#,
            r#"</samlp:AuthnRequest>"#
        ),
        id = id,
        ii = saml_instant(now),
        dest = esc(&destination),
        force = force,
        acs = opts.acs_index,
        attr = opts.attribute_index,
        eid = esc(&cfg.entity_id),
        fmt = NAMEID_ENTITY,
        sig = sig_slot,
        transient = NAMEID_TRANSIENT,
        acr = opts.level.uri(),
    );

    let mut out = AuthnRequest {
        id: id.clone(),
        issue_instant: super::parse_saml_instant(&saml_instant(now)).unwrap_or(now),
        level: opts.level,
        idp_entity_id: idp.entity_id.clone(),
        destination: destination.clone(),
        binding: opts.binding,
        xml: String::new(),
        relay_state: opts.relay_state.to_string(),
        post_form_html: None,
        redirect_url: None,
    };
    match opts.binding {
        Binding::Post => {
            let signed = sign_enveloped(&xml, &id, &creds)?;
            out.post_form_html = Some(post_form(
                &destination,
                "SAMLRequest",
                &B64.encode(signed.as_bytes()),
                opts.relay_state,
                opts.form_script_src,
                &opts.form_words,
            ));
            out.xml = signed;
        }
        Binding::Redirect => {
            let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
            enc.write_all(xml.as_bytes()).map_err(|e| SpidError::Signing(e.to_string()))?;
            let deflated = enc.finish().map_err(|e| SpidError::Signing(e.to_string()))?;
            let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let signed_part = format!(
                "SAMLRequest={}&RelayState={}&SigAlg={}",
                q(&B64.encode(deflated)),
                q(opts.relay_state),
                q(ALG_RSA_SHA256)
            );
            let sig = sign_redirect_query(&signed_part, &creds)?;
            let sep = if destination.contains('?') { '&' } else { '?' };
            out.redirect_url = Some(format!("{destination}{sep}{signed_part}&Signature={}", q(&sig)));
            out.xml = xml;
        }
    }
    Ok(out)
}

/// Self-posting form without inline script (CSP `script-src 'self'`).
pub fn post_form(
    action: &str,
    field: &str,
    value_b64: &str,
    relay_state: &str,
    script_src: Option<&str>,
    words: &FormWords<'_>,
) -> String {
    let script = script_src.map(|s| format!(r#"<script src="{}" defer></script>"#, esc(s))).unwrap_or_default();
    let text = if words.text.is_empty() { String::new() } else { format!("<p>{}</p>", esc(words.text)) };
    let button = if words.button.is_empty() { "→" } else { words.button };
    format!(
        concat!(
            r#"<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">"#,
            r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#,
            r#"<title>{title}</title>{script}</head><body>"#,
            r#"<form id="spid-authn-form" method="post" action="{action}" data-auto-submit="true">"#,
            r#"<input type="hidden" name="{field}" value="{value}">"#,
            r#"<input type="hidden" name="RelayState" value="{rs}">"#,
            r#"{text}<button type="submit">{button}</button>"#,
            r#"</form></body></html>"#
        ),
        lang = esc(if words.lang.is_empty() { "it" } else { words.lang }),
        title = esc(words.title),
        script = script,
        action = esc(action),
        field = esc(field),
        value = esc(value_b64),
        rs = esc(relay_state),
        text = text,
        button = esc(button),
    )
}

#[cfg(test)]
mod tests {
    use super::super::crypto::verify_and_reduce;
    use super::super::idp::IdpTrust;
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn post_request_is_signed_and_spid_compliant() {
        let kp = KeyPair::generate("sp", -1, 365);
        let idp_kp = KeyPair::generate("idp", -1, 365);
        let idp = idp_metadata(&idp_kp, IdpTrust::Strict);
        let mut o = RequestOptions::new(SpidLevel::L2, "r4nd0m");
        o.form_script_src = Some("/static/spid-autosubmit.js");
        let r = authn_request(&sp_config(&kp), &idp, &o).unwrap();
        for needle in [
            r#"ForceAuthn="true""#,
            r#"Comparison="minimum""#,
            "https://www.spid.gov.it/SpidL2",
            r#"AttributeConsumingServiceIndex="0""#,
            r#"AssertionConsumerServiceIndex="0""#,
            &format!(r#"NameQualifier="{SP_ENTITY}""#),
            "nameid-format:transient",
            &format!(r#"Destination="{IDP_ENTITY}/sso""#),
        ] {
            assert!(r.xml.contains(needle), "{needle} missing");
        }
        assert!(!r.xml.contains("IssueInstant=\"") || !r.xml.contains(".000"));
        verify_and_reduce(&r.xml, &[kp.cert.to_der().unwrap()]).unwrap();
        let html = r.post_form_html.unwrap();
        assert!(html.contains(r#"<script src="/static/spid-autosubmit.js" defer></script>"#));
        assert!(!html.contains("<script>"));
        assert!(html.contains(r#"name="RelayState" value="r4nd0m""#));
    }

    #[test]
    fn l1_has_no_force_authn_and_redirect_is_signed() {
        let kp = KeyPair::generate("sp", -1, 365);
        let idp = idp_metadata(&KeyPair::generate("idp", -1, 365), IdpTrust::Strict);
        let mut o = RequestOptions::new(SpidLevel::L1, "abc");
        o.binding = Binding::Redirect;
        let r = authn_request(&sp_config(&kp), &idp, &o).unwrap();
        assert!(!r.xml.contains("ForceAuthn"));
        let url = r.redirect_url.unwrap();
        assert!(url.contains("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"));
        let (signed, sig) = url.split_once('?').unwrap().1.rsplit_once("&Signature=").unwrap();
        let sig: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes()).next().unwrap().1.into();
        let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &kp.key).unwrap();
        v.update(signed.as_bytes()).unwrap();
        assert!(v.verify(&B64.decode(sig).unwrap()).unwrap());
    }

    #[test]
    fn relay_state_must_be_opaque() {
        let kp = KeyPair::generate("sp", -1, 365);
        let idp = idp_metadata(&KeyPair::generate("idp", -1, 365), IdpTrust::Strict);
        let o = RequestOptions::new(SpidLevel::L2, "https://evil");
        assert!(authn_request(&sp_config(&kp), &idp, &o).is_err());
    }
}
