//! SPID and CIE sign-in over SAML 2.0: per-ente service-provider metadata,
//! signed AuthnRequests, and the assertion consumer service. The protocol core
//! (signing, validation) is `auth::saml`; this is the HTTP and database side.

use std::{path::Path, process::Command, sync::Arc};

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Form,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    authz::{Access, RouteSpec},
    dev_idp::DevIdp,
    login::safe_next,
    ratelimit::Action,
    saml::{self, IdpMetadata, SpConfig, SpidError, SpidLevel},
    session::{self, ClientInfo, MaybeSession},
    store,
};
use crate::i18n::Text;
use crate::tenancy::{Level, Method};
use crate::users::{self, ProvenIdentity};
use crate::web::CurrentTenant;
use crate::{
    config::Settings,
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    tenancy::Tenant,
    web::{base_context, render_page},
};

/// Binds a pending SAML sign-in to the browser that started it.
pub const SAML_COOKIE: &str = "sportello_saml";
const PENDING_TTL: chrono::Duration = chrono::Duration::minutes(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Federation {
    Spid,
    Cie,
}

impl Federation {
    pub fn path(self) -> &'static str {
        match self {
            Self::Spid => "spid",
            Self::Cie => "cie",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Spid => Method::Spid,
            Self::Cie => Method::Cie,
        }
    }
}

/// The identity providers of each federation, from the configured metadata
/// files, and the development IdP when `dev_pages` is on (and only then).
pub struct IdentityProviders {
    spid: Vec<IdpMetadata>,
    cie: Vec<IdpMetadata>,
    dev: Option<DevIdp>,
}

impl IdentityProviders {
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let load = |files: &[std::path::PathBuf]| -> anyhow::Result<Vec<IdpMetadata>> {
            let mut idps = Vec::new();
            for file in files {
                let xml = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                for idp in IdpMetadata::parse_all(&xml).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))? {
                    // Only for a test deployment against spid-sp-test, whose IdP
                    // certificate has expired (see docs/AUTH.md).
                    idps.push(if settings.saml_trust_test_idp_cert {
                        idp.trusting_expired_test_certificate()
                    } else {
                        idp
                    });
                }
            }
            Ok(idps)
        };
        let dev = if settings.dev_pages { Some(DevIdp::generate()?) } else { None };
        Ok(Self { spid: load(&settings.spid_idp_metadata)?, cie: load(&settings.cie_idp_metadata)?, dev })
    }

    /// The IdPs trusted for `federation`, as a visitor of `base` reaches them.
    pub fn trusted(&self, federation: Federation, base: &str) -> Vec<IdpMetadata> {
        let configured = match federation {
            Federation::Spid => &self.spid,
            Federation::Cie => &self.cie,
        };
        configured.iter().cloned().chain(self.dev.iter().map(|dev| dev.metadata(federation, base))).collect()
    }

    pub fn dev(&self) -> Option<&DevIdp> {
        self.dev.as_ref()
    }
}

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new(
            "/accesso/spid",
            &["GET"],
            Access::Public,
            get(|s, t, h, q| choose_idp(Federation::Spid, s, t, h, q)),
        ),
        RouteSpec::new(
            "/accesso/spid/metadata",
            &["GET"],
            Access::Public,
            get(|s, t, h| metadata(Federation::Spid, s, t, h)),
        )
        .cacheable(),
        RouteSpec::new(
            "/accesso/spid/login",
            &["GET"],
            Access::Public,
            get(|s, t, c, h, q| login(Federation::Spid, s, t, c, h, q)),
        ),
        RouteSpec::new(
            "/accesso/spid/acs",
            &["POST"],
            Access::Public,
            post(|s, t, c, h, p, f| acs(Federation::Spid, s, t, c, h, p, f)),
        ),
        RouteSpec::new(
            "/accesso/cie",
            &["GET"],
            Access::Public,
            get(|s, t, h, q| choose_idp(Federation::Cie, s, t, h, q)),
        ),
        RouteSpec::new(
            "/accesso/cie/metadata",
            &["GET"],
            Access::Public,
            get(|s, t, h| metadata(Federation::Cie, s, t, h)),
        )
        .cacheable(),
        RouteSpec::new(
            "/accesso/cie/login",
            &["GET"],
            Access::Public,
            get(|s, t, c, h, q| login(Federation::Cie, s, t, c, h, q)),
        ),
        RouteSpec::new(
            "/accesso/cie/acs",
            &["POST"],
            Access::Public,
            post(|s, t, c, h, p, f| acs(Federation::Cie, s, t, c, h, p, f)),
        ),
    ]
}

/// Paths that IdPs POST to from their own site: protected by the IdP's signature
/// and the pending-login cookie instead of our CSRF token.
pub const CROSS_SITE_POSTS: &[&str] =
    &["/accesso/spid/acs", "/accesso/cie/acs", super::dev_idp::SSO_PATHS[0], super::dev_idp::SSO_PATHS[1]];

/// Who a SAML sign-in is for: citizens (`[auth] methods`) or staff matched by
/// fiscal code (`[auth.staff] methods`, started from `/backoffice/accesso`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    #[default]
    Citizen,
    Staff,
}

impl Audience {
    fn of(per: Option<&str>) -> Self {
        if per == Some("staff") {
            Self::Staff
        } else {
            Self::Citizen
        }
    }
}

fn enabled(tenant: &Tenant, federation: Federation, audience: Audience) -> Result<(), AppError> {
    let on = match audience {
        Audience::Citizen => tenant.auth.enabled(federation.method()),
        Audience::Staff => tenant.auth.staff_may_use(federation.method()),
    };
    if on {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Either audience: the metadata and the ACS serve both.
fn enabled_for_anyone(tenant: &Tenant, federation: Federation) -> Result<(), AppError> {
    enabled(tenant, federation, Audience::Citizen).or_else(|_| enabled(tenant, federation, Audience::Staff))
}

/// `scheme://host[:port]` as the visitor reached us.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap, tenant: &Tenant) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&tenant.primary_host);
    format!("{}://{host}", state.settings.public_scheme())
}

pub(crate) async fn sp_config(
    state: &AppState,
    tenant: &Tenant,
    federation: Federation,
    base: &str,
) -> AppResult<SpConfig> {
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    let secrets = store::tenant_secrets(&mut tx, &["saml_sp_key", "saml_sp_cert"]).await?;
    tx.commit().await?;
    let secret = |name: &str| secrets.iter().find(|s| s.name == name).map(|s| s.value.clone());
    let (Some(key_pem), Some(cert_pem)) = (secret("saml_sp_key"), secret("saml_sp_cert")) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "{}: no SAML signing key; apply the tenant again",
            tenant.slug
        )));
    };
    let prefix = format!("{base}/accesso/{}", federation.path());
    let contacts = &tenant.profile.contacts;
    Ok(SpConfig {
        entity_id: tenant.auth.saml.entity_id.clone().unwrap_or_else(|| format!("{prefix}/metadata")),
        acs_urls: vec![format!("{prefix}/acs")],
        slo_url: format!("{prefix}/slo"),
        key_pem,
        cert_pem,
        organization: saml::Organization {
            name: tenant.name.clone(),
            display_name: tenant.name.clone(),
            url: if contacts.website.is_empty() { base.to_string() } else { contacts.website.clone() },
        },
        ipa_code: tenant.profile.ipa_code.clone(),
        contact_email: if contacts.email.is_empty() {
            format!("protocollo@{}", tenant.primary_host)
        } else {
            contacts.email.clone()
        },
        contact_phone: (!contacts.phone.is_empty()).then(|| contacts.phone.replace(' ', "")),
        attribute_sets: vec![match federation {
            Federation::Spid => saml::AttributeConsumingService::default_citizen_set(),
            Federation::Cie => saml::AttributeConsumingService::cie_citizen_set(),
        }],
        profile: match federation {
            Federation::Spid => saml::MetadataProfile::Spid,
            Federation::Cie => saml::MetadataProfile::Cie {
                cadastral_code: tenant.profile.cadastral_code.clone(),
                province: tenant.profile.province.clone(),
            },
        },
    })
}

/// The script that posts a SAML hand-off form by itself (static file path).
pub(crate) const SAML_POST_SCRIPT: &str = "themes/base/saml-post.js";

fn saml_failure(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("saml: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SpidError> + Send + 'static,
) -> AppResult<Result<T, SpidError>> {
    tokio::task::spawn_blocking(f).await.map_err(|e| AppError::Internal(e.into()))
}

async fn metadata(
    federation: Federation,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
) -> AppResult<Response> {
    enabled_for_anyone(&tenant.0, federation)?;
    let cfg = sp_config(&state, &tenant.0, federation, &base_url(&state, &headers, &tenant.0)).await?;
    let xml = blocking(move || saml::sp_metadata(&cfg)).await?.map_err(saml_failure)?;
    Ok(([(header::CONTENT_TYPE, "application/samlmetadata+xml; charset=utf-8")], xml).into_response())
}

#[derive(Deserialize)]
struct ChooseQuery {
    next: Option<String>,
    level: Option<u8>,
    per: Option<String>,
}

#[derive(Serialize)]
struct IdpChoice {
    encoded: String,
    name: String,
    /// The development IdP: shown marked "solo sviluppo".
    dev: bool,
}

async fn choose_idp(
    federation: Federation,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    Query(q): Query<ChooseQuery>,
) -> AppResult<Html<String>> {
    let audience = Audience::of(q.per.as_deref());
    enabled(&tenant.0, federation, audience)?;
    let idps: Vec<IdpChoice> = state
        .saml_idps
        .trusted(federation, &base_url(&state, &headers, &tenant.0))
        .iter()
        .map(|idp| IdpChoice {
            dev: idp.entity_id == super::dev_idp::ENTITY_ID,
            name: url::Url::parse(&idp.entity_id)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| idp.entity_id.clone()),
            encoded: url::form_urlencoded::byte_serialize(idp.entity_id.as_bytes()).collect(),
        })
        .collect();
    let mut context = base_context(&tenant.site());
    let next = safe_next(q.next.as_deref());
    context.insert("federation", federation.path());
    context.insert("idps", &idps);
    context.insert("level", &q.level.unwrap_or(2).clamp(1, 3));
    context.insert("staff", &(audience == Audience::Staff));
    context.insert("next_encoded", &url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>());
    render_page(&state, &tenant.site(), "auth/saml_choose.html", &context)
}

#[derive(Deserialize)]
struct LoginQuery {
    idp: Option<String>,
    level: Option<u8>,
    binding: Option<String>,
    next: Option<String>,
    per: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    request_id: String,
    issue_instant: DateTime<Utc>,
    level: u8,
    idp: String,
    relay_state: String,
    acs_url: String,
    entity_id: String,
    next: String,
    #[serde(default)]
    audience: Audience,
}

async fn login(
    federation: Federation,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ClientInfo,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> AppResult<Response> {
    let audience = Audience::of(q.per.as_deref());
    enabled(&tenant.0, federation, audience)?;
    // Each start stores a pending request and signs one: bounded per address.
    state.limits.check(Action::SignInStart, &tenant.0.slug, client.ip, None)?;
    let base = base_url(&state, &headers, &tenant.0);
    let mut idps = state.saml_idps.trusted(federation, &base);
    let idp = match &q.idp {
        Some(id) => idps.iter().position(|i| &i.entity_id == id).map(|at| idps.swap_remove(at)),
        None => idps.into_iter().next(),
    }
    .ok_or(AppError::NotFound)?;
    let level = match q.level.unwrap_or(2) {
        1 => SpidLevel::L1,
        3 => SpidLevel::L3,
        _ => SpidLevel::L2,
    };
    let cfg = sp_config(&state, &tenant.0, federation, &base).await?;
    // Opaque and short, as SPID wants RelayState; hex never spells "http".
    let relay_state = hex::encode(rand::random::<[u8; 20]>());
    let redirect = q.binding.as_deref() == Some("redirect");
    let (entity_id, acs_url) = (cfg.entity_id.clone(), cfg.acs_url().to_string());
    let relay = relay_state.clone();
    let words = |key: &str| state.renderer.translate_in(tenant.lang(), key);
    let (lang, title, text, button) = (
        tenant.lang().to_string(),
        words("auth.saml_going_title"),
        words("auth.saml_going"),
        words("auth.saml_continue"),
    );
    let script = state.assets.url(SAML_POST_SCRIPT);
    let request = blocking(move || {
        let mut opts = saml::RequestOptions::new(level, &relay);
        opts.binding = if redirect { saml::Binding::Redirect } else { saml::Binding::Post };
        opts.form_script_src = Some(&script);
        opts.form_words = saml::request::FormWords { lang: &lang, title: &title, text: &text, button: &button };
        saml::authn_request(&cfg, &idp, &opts)
    })
    .await?
    .map_err(saml_failure)?;

    let pending = Pending {
        request_id: request.id.clone(),
        issue_instant: request.issue_instant,
        level: level.as_u8(),
        idp: request.idp_entity_id.clone(),
        relay_state,
        acs_url,
        entity_id,
        next: safe_next(q.next.as_deref()),
        audience,
    };
    let (token, hash) = session::new_token();
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let data = serde_json::to_value(&pending).map_err(anyhow::Error::from)?;
    store::save_pending_saml(&mut tx, &hash, &format!("saml:{}", federation.path()), &data, PENDING_TTL).await?;
    tx.commit().await?;
    let cookie = pending_cookie(&state, &token);
    if let Some(url) = request.redirect_url {
        // 302, as the SAML HTTP-Redirect binding specifies.
        let location = HeaderValue::from_str(&url).map_err(anyhow::Error::from)?;
        return Ok((StatusCode::FOUND, [(header::SET_COOKIE, cookie), (header::LOCATION, location)]).into_response());
    }
    let html = request.post_form_html.ok_or_else(|| saml_failure("no POST form"))?;
    // This page posts to the IdP: the only place a form leaves our origin.
    let origin =
        url::Url::parse(&request.destination).map(|u| u.origin().ascii_serialization()).map_err(saml_failure)?;
    let csp = format!("default-src 'none'; script-src 'self'; style-src 'self'; form-action {origin}; base-uri 'none'; frame-ancestors 'none'");
    Ok((
        [
            (header::SET_COOKIE, cookie),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).map_err(anyhow::Error::from)?),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Html(html),
    )
        .into_response())
}

/// The IdP posts back cross-site, so in production the cookie must be
/// `SameSite=None; Secure`. Plain-http development (localhost) cannot use
/// `Secure` for clients that honour it strictly, so it is `Lax` there.
fn pending_cookie(state: &AppState, token: &str) -> HeaderValue {
    let age = PENDING_TTL.num_seconds();
    let value = if state.settings.public_scheme() == "https" {
        format!("{SAML_COOKIE}={token}; Path=/accesso; HttpOnly; Secure; SameSite=None; Max-Age={age}")
    } else {
        format!("{SAML_COOKIE}={token}; Path=/accesso; HttpOnly; SameSite=Lax; Max-Age={age}")
    };
    HeaderValue::from_str(&value).expect("base64url token")
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse", default)]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn acs(
    federation: Federation,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ClientInfo,
    headers: HeaderMap,
    MaybeSession(previous): MaybeSession,
    Form(form): Form<AcsForm>,
) -> AppResult<Response> {
    enabled_for_anyone(&tenant.0, federation)?;
    let Some(token) = session::cookie_value(&headers, SAML_COOKIE) else {
        return failure(&state, &tenant, StatusCode::BAD_REQUEST, "auth.saml_no_request".into());
    };
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    // Consumed at the first answer: a pending request is good for one response.
    let data =
        store::take_pending_saml(&mut tx, &session::token_hash(token), &format!("saml:{}", federation.path())).await?;
    tx.commit().await?;
    let Some(pending) = data.and_then(|d| serde_json::from_value::<Pending>(d).ok()) else {
        return failure(&state, &tenant, StatusCode::BAD_REQUEST, "auth.saml_no_request".into());
    };
    if form.relay_state.as_deref().is_some_and(|r| r != pending.relay_state) {
        return failure(&state, &tenant, StatusCode::BAD_REQUEST, "auth.saml_no_request".into());
    }
    let idps = state.saml_idps.trusted(federation, &base_url(&state, &headers, &tenant.0));
    let Some(idp) = idps.into_iter().find(|i| i.entity_id == pending.idp) else {
        return failure(&state, &tenant, StatusCode::BAD_REQUEST, "auth.saml_no_request".into());
    };
    let requested = match pending.level {
        1 => SpidLevel::L1,
        3 => SpidLevel::L3,
        _ => SpidLevel::L2,
    };
    let (request_id, acs_url, entity_id) =
        (pending.request_id.clone(), pending.acs_url.clone(), pending.entity_id.clone());
    let issued = pending.issue_instant;
    let b64 = form.saml_response;
    let outcome = blocking(move || {
        let expectations = saml::Expectations::new(&request_id, issued, &acs_url, &entity_id, &idp, requested);
        saml::validate_response(&b64, &expectations, &saml::NoReplayCheck)
    })
    .await?;
    let identity = match outcome {
        Ok(identity) => identity,
        Err(e) => {
            tracing::warn!(code = e.code(), error = %e, "SAML response refused");
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
            return failure(&state, &tenant, status, e.user_message());
        }
    };
    let Some(fiscal_code) = crate::input::normalize_fiscal_code(&identity.fiscal_number).or_else(|| {
        Some(identity.fiscal_number.clone()).filter(|f| f.len() == 11 && f.bytes().all(|b| b.is_ascii_digit()))
    }) else {
        return failure(&state, &tenant, StatusCode::FORBIDDEN, "auth.saml_no_fiscal_code".into());
    };
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    // An assertion is accepted once (replay protection), until it expires.
    let fresh = store::record_assertion(&mut tx, &identity.assertion_id, identity.not_on_or_after).await?;
    if !fresh {
        tx.commit().await?;
        return failure(&state, &tenant, StatusCode::FORBIDDEN, "auth.saml_replayed".into());
    }
    let user_id = users::for_identity(
        &mut tx,
        ProvenIdentity {
            fiscal_code: &fiscal_code,
            given_name: identity.name.as_deref().unwrap_or_default(),
            family_name: identity.family_name.as_deref().unwrap_or_default(),
            email: identity.email.as_deref(),
            mobile: identity.mobile_phone.as_deref(),
        },
    )
    .await?;
    let level = match identity.level {
        SpidLevel::L1 => Level::L1,
        SpidLevel::L2 => Level::L2,
        SpidLevel::L3 => Level::L3,
    };
    let staff_subject = match pending.audience {
        Audience::Citizen => None,
        Audience::Staff => {
            // Staff of this ente only: another ente's list is invisible here (RLS).
            let Some(subject) = users::staff_subject_by_fiscal_code(&mut tx, &fiscal_code).await? else {
                tx.commit().await?;
                tracing::warn!("staff sign-in with a fiscal code that is not staff of this ente");
                return failure(&state, &tenant, StatusCode::FORBIDDEN, "auth.staff_unknown".into());
            };
            if level < tenant.0.auth.staff.min_level {
                tx.commit().await?;
                return failure(&state, &tenant, StatusCode::FORBIDDEN, "auth.staff_level_too_low".into());
            }
            let email = subject.trim_start_matches("staff:");
            if let Some(refusal) = store::admit(&mut tx, email, &pending.next).await?.refusal() {
                tx.commit().await?;
                return failure(&state, &tenant, StatusCode::FORBIDDEN, refusal.into());
            }
            users::mark_staff(&mut tx, user_id).await?;
            Some(subject)
        }
    };
    let opening =
        session::Opening { user_id, method: federation.method(), level, staff_subject: staff_subject.as_deref() };
    let cookie = session::start(&mut tx, opening, previous.as_ref().map(|s| s.token_hash.as_slice()), &client).await?;
    tx.commit().await?;
    // 200, not a redirect: SPID's test suite (and some IdPs) expect it; the page
    // moves on by itself (meta refresh, allowed by our CSP) or with its link.
    let mut context = base_context(&tenant.site());
    context.insert("next", &pending.next);
    let page = render_page(&state, &tenant.site(), "auth/saml_done.html", &context)?;
    Ok((
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie),
            (
                header::SET_COOKIE,
                HeaderValue::from_static("sportello_saml=; Path=/accesso; HttpOnly; SameSite=Lax; Max-Age=0"),
            ),
        ]),
        page,
    )
        .into_response())
}

fn failure(state: &AppState, tenant: &CurrentTenant, status: StatusCode, message: Text) -> AppResult<Response> {
    let mut context = base_context(&tenant.site());
    context.insert("message", &state.renderer.catalogues().text(tenant.lang(), &message));
    let page = render_page(state, &tenant.site(), "auth/saml_error.html", &context)?;
    Ok((status, page).into_response())
}

/// Makes the SAML signing key and a self-signed certificate in the SPID
/// public-sector profile (Avviso 29 v3) for an ente that brings none.
pub fn generate_sp_certificate(
    entity_id: &str,
    ipa_code: &str,
    organization: &str,
    locality: &str,
) -> anyhow::Result<(String, String)> {
    let dir = std::env::temp_dir().join(format!("sportello-spkey-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| {
        let clean = |s: &str| s.replace(['\n', '\r', '"', '\\', '$'], " ");
        let config = SP_CERT_CONFIG
            .replace("{org}", &clean(organization))
            .replace("{entity_id}", &clean(entity_id))
            .replace("{ipa}", &clean(ipa_code))
            .replace("{locality}", &clean(locality));
        std::fs::write(dir.join("openssl.cnf"), config)?;
        let status = Command::new("openssl")
            .args([
                "req",
                "-new",
                "-x509",
                "-config",
                "openssl.cnf",
                "-newkey",
                "rsa:3072",
                "-nodes",
                "-sha256",
                "-days",
                "730",
            ])
            .args(["-keyout", "sp.key", "-out", "sp.crt"])
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "openssl req failed");
        Ok((read(&dir.join("sp.key"))?, read(&dir.join("sp.crt"))?))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn read(path: &Path) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)?)
}

const SP_CERT_CONFIG: &str = r#"oid_section = spid_oids
[ spid_oids ]
agidcert = 1.3.76.16.6
spidpublic = 1.3.76.16.4.2.1
subjUri = 2.5.4.83
[ req ]
prompt = no
distinguished_name = dn
x509_extensions = ext
string_mask = utf8only
[ dn ]
O = {org}
CN = {org}
subjUri = {entity_id}
organizationIdentifier = PA:IT-{ipa}
C = IT
L = {locality}
[ ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = @pol_root, @pol_agid, @pol_pub
subjectKeyIdentifier = hash
[ pol_root ]
policyIdentifier = 1.3.76.16
userNotice.1 = @n_root
[ n_root ]
explicitText = "AgIDroot"
[ pol_agid ]
policyIdentifier = 1.3.76.16.6
userNotice.1 = @n_agid
[ n_agid ]
explicitText = "agIDcert"
[ pol_pub ]
policyIdentifier = 1.3.76.16.4.2.1
userNotice.1 = @n_pub
[ n_pub ]
explicitText = "cert_SP_Pub"
"#;

pub type SharedIdps = Arc<IdentityProviders>;
