//! The development identity provider: SPID and CIE sign-in on the embedded
//! default, where no AgID or Ministry IdP can answer. It exists only with
//! `dev_pages = true` (routes answer 404 otherwise, and its certificate is not
//! among the trusted IdPs, see `spid::IdentityProviders`).
//!
//! It lives on each ente's own host (`/sviluppo/idp/{spid|cie}/…`), so the
//! pending sign-in cookie, `SameSite=Lax` on plain http, comes back with the
//! assertion. It answers with real signed responses in the SPID profile
//! (`saml::issue`), posted to the ente's real assertion consumer service, which
//! validates them with exactly the code it applies to every other IdP.

use std::sync::OnceLock;

use axum::{
    extract::Path,
    http::{header, HeaderMap, HeaderValue},
    response::{Html, IntoResponse, Response},
    routing::post,
    Form,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{
    authz::{Access, RouteSpec},
    page::Page,
    saml::{
        self,
        crypto::SigningCredentials,
        idp::{Endpoint, IdpMetadata, IdpTrust},
        issue::{self, Assertion},
        SpidLevel, BINDING_POST,
    },
    spid::{self, Federation},
};
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// The entity id this IdP signs as (an identifier, never fetched).
pub const ENTITY_ID: &str = "https://idp.sviluppo.sportello.invalid";

/// The provider's key and certificate: made at start, never stored, so a
/// response it signed is worth nothing to any other run.
pub struct DevIdp {
    creds: SigningCredentials,
    cert_der: Vec<u8>,
}

impl DevIdp {
    pub fn generate() -> anyhow::Result<Self> {
        let (key, cert) = issue::self_signed_pem("Sportello - IdP di sviluppo", 365)?;
        let creds = SigningCredentials::from_pem(&key, &cert)?;
        let cert_der = openssl::x509::X509::from_pem(cert.as_bytes())?.to_der()?;
        Ok(Self { creds, cert_der })
    }

    /// Its metadata as the ente on `base` (`scheme://host`) reaches it.
    pub fn metadata(&self, federation: Federation, base: &str) -> IdpMetadata {
        IdpMetadata {
            entity_id: ENTITY_ID.into(),
            sso: vec![Endpoint {
                binding: BINDING_POST.into(),
                location: format!("{base}/sviluppo/idp/{}/sso", federation.path()),
            }],
            slo: vec![],
            signing_certs: vec![self.cert_der.clone()],
            trust: IdpTrust::Strict,
        }
    }
}

/// Paths the service provider's self-posting form reaches without our CSRF
/// token (it carries a SAML request, not a change).
pub const SSO_PATHS: &[&str] = &["/sviluppo/idp/spid/sso", "/sviluppo/idp/cie/sso"];

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/sviluppo/idp/{federation}/sso", &["POST"], Access::Public, post(sso)),
        RouteSpec::new("/sviluppo/idp/{federation}/rispondi", &["POST"], Access::Public, post(answer)),
    ]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Identity {
    pub fiscal_code: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    #[serde(default)]
    pub mobile: Option<String>,
    /// Who this is, for the list (demo data, in Italian like the demo enti).
    pub about: String,
}

pub fn identities() -> &'static [Identity] {
    static IDENTITIES: OnceLock<Vec<Identity>> = OnceLock::new();
    IDENTITIES.get_or_init(|| {
        #[derive(Deserialize)]
        struct File {
            identity: Vec<Identity>,
        }
        let file: File = toml::from_str(include_str!("identities.toml")).expect("dev_idp/identities.toml");
        file.identity
    })
}

fn dev_idp(state: &AppState) -> Result<&DevIdp, AppError> {
    state.saml_idps.dev().filter(|_| state.settings.dev_pages).ok_or(AppError::NotFound)
}

fn federation(path: &str) -> Result<Federation, AppError> {
    match path {
        "spid" => Ok(Federation::Spid),
        "cie" => Ok(Federation::Cie),
        _ => Err(AppError::NotFound),
    }
}

#[derive(Deserialize)]
struct SsoForm {
    #[serde(rename = "SAMLRequest", default)]
    saml_request: String,
    #[serde(rename = "RelayState", default)]
    relay_state: String,
}

/// The identity list, for the request the ente's service provider posted.
async fn sso(page: Page, Path(path): Path<String>, Form(form): Form<SsoForm>) -> AppResult<Response> {
    dev_idp(&page.state)?;
    let federation = federation(&path)?;
    let request = issue::read_authn_request(&form.saml_request).map_err(|_| AppError::BadRequest("SAMLRequest"))?;
    let mut context = page.context();
    context.insert("federation", federation.path());
    context.insert("identities", identities());
    context.insert("request_id", &request.id);
    context.insert("relay_state", &form.relay_state);
    context.insert("requested_level", &request.level.as_u8());
    context.insert("levels", &[1u8, 2, 3]);
    page.render("auth/dev_idp.html", &context)
}

/// Every field defaults, so that without `dev_pages` any body answers 404.
#[derive(Deserialize)]
#[serde(default)]
struct AnswerForm {
    fiscal_code: String,
    level: u8,
    request_id: String,
    relay_state: String,
}

impl Default for AnswerForm {
    fn default() -> Self {
        Self { fiscal_code: String::new(), level: 2, request_id: String::new(), relay_state: String::new() }
    }
}

/// Signs the response for the chosen identity and posts it to the ente's ACS.
async fn answer(
    page: Page,
    headers: HeaderMap,
    Path(path): Path<String>,
    Form(form): Form<AnswerForm>,
) -> AppResult<Response> {
    let federation = federation(&path)?;
    let idp = dev_idp(&page.state)?;
    let person = identities().iter().find(|i| i.fiscal_code == form.fiscal_code).ok_or(AppError::NotFound)?;
    let level = match form.level {
        1 => SpidLevel::L1,
        3 => SpidLevel::L3,
        _ => SpidLevel::L2,
    };
    let sp = spid::sp_config(
        &page.state,
        &page.tenant.0,
        federation,
        &spid::base_url(&page.state, &headers, &page.tenant.0),
    )
    .await?;
    let mut attributes = vec![
        ("fiscalNumber", format!("TINIT-{}", person.fiscal_code)),
        ("name", person.given_name.clone()),
        ("familyName", person.family_name.clone()),
        ("email", person.email.clone()),
        ("spidCode", format!("DEV{}", &person.fiscal_code[..10])),
    ];
    if let Some(mobile) = &person.mobile {
        attributes.push(("mobilePhone", mobile.clone()));
    }
    let response = saml::issue::signed_response(
        &Assertion {
            idp_entity_id: ENTITY_ID,
            in_response_to: &form.request_id,
            acs_url: sp.acs_url(),
            audience: &sp.entity_id,
            level,
            attributes: &attributes,
            now: Utc::now(),
        },
        &idp.creds,
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("dev IdP: {e}")))?;
    let words = |key: &str| page.state.renderer.translate_in(page.lang(), key);
    let html = saml::request::post_form(
        sp.acs_url(),
        "SAMLResponse",
        &response,
        &form.relay_state,
        Some(&page.state.assets.url(crate::auth::spid::SAML_POST_SCRIPT)),
        &saml::request::FormWords {
            lang: page.lang(),
            title: &words("auth.dev_idp_title"),
            text: &words("auth.dev_idp_returning"),
            button: &words("auth.saml_continue"),
        },
    );
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Html(html)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::spid::IdentityProviders, config::Settings};

    #[test]
    fn the_dev_idp_is_trusted_only_with_dev_pages_on() {
        let off = IdentityProviders::load(&Settings::default()).unwrap();
        assert!(off.dev().is_none());
        assert!(!off.trusted(Federation::Spid, "http://valmora.localhost").iter().any(|i| i.entity_id == ENTITY_ID));
        let on = IdentityProviders::load(&Settings { dev_pages: true, ..Settings::default() }).unwrap();
        let spid = on.trusted(Federation::Spid, "http://valmora.localhost");
        let dev = spid.iter().find(|i| i.entity_id == ENTITY_ID).expect("trusted with dev_pages");
        assert_eq!(dev.sso_post(), Some("http://valmora.localhost/sviluppo/idp/spid/sso"));
        assert!(on.trusted(Federation::Cie, "http://x").iter().any(|i| i.entity_id == ENTITY_ID));
        assert!(
            identities().len() >= 7
                && identities().iter().all(|i| crate::input::normalize_fiscal_code(&i.fiscal_code).is_some())
        );
    }
}
