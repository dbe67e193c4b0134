// Reference only: NOT compiled (not in the module tree). The axum test SP used to run
// spid_sp_test.sh against this module; mirror its ACS/login behaviour in the real handlers.
// Built in the prototype crate as: cargo run --example spid_test_server -- PORT KEY CERT IDP_XML --trust-test-idp-cert
//! Minimal axum server exposing the SPID SP endpoints, for `spid-sp-test`.
//!
//! usage: spid_test_server PORT SP_KEY_PEM SP_CERT_PEM IDP_METADATA_XML [--trust-test-idp-cert] [--level N]
//!
//! GET  /accesso/spid/metadata  signed SP metadata
//! GET  /accesso/spid/login     signed AuthnRequest (HTTP-POST form), sets a cookie
//! POST /accesso/spid/acs       200 + identity JSON, or 4xx/5xx + error JSON
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use spid_proto::saml::{self, request::RequestOptions, IdpMetadata, SpConfig, SpidLevel};

struct Pending {
    issue_instant: DateTime<Utc>,
    level: SpidLevel,
}

struct App {
    cfg: SpConfig,
    idp: IdpMetadata,
    level: SpidLevel,
    pending: Mutex<HashMap<String, Pending>>,
    used_assertions: Mutex<HashSet<String>>,
}

#[derive(serde::Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    #[allow(dead_code)]
    relay_state: Option<String>,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!(
            "usage: {} PORT KEY CERT IDP_METADATA [--trust-test-idp-cert] [--level N]",
            args[0]
        );
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("port");
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let trust_test = args.iter().any(|a| a == "--trust-test-idp-cert");
    let level = match args
        .iter()
        .position(|a| a == "--level")
        .map(|i| args[i + 1].as_str())
    {
        Some("1") => SpidLevel::L1,
        Some("3") => SpidLevel::L3,
        _ => SpidLevel::L2,
    };
    let base = format!("http://localhost:{port}");
    let cfg = SpConfig {
        entity_id: format!("{base}/accesso/spid/metadata"),
        acs_urls: vec![format!("{base}/accesso/spid/acs")],
        slo_url: format!("{base}/accesso/spid/slo"),
        key_pem: read(&args[2]),
        cert_pem: read(&args[3]),
        organization: saml::Organization {
            name: "Comune di Valmora".into(),
            display_name: "Comune di Valmora".into(),
            url: "https://valmora.example.it".into(),
        },
        ipa_code: "c_x000".into(),
        contact_email: "protocollo@valmora.example.it".into(),
        contact_phone: Some("+390612345678".into()),
        attribute_sets: vec![saml::AttributeConsumingService::default_citizen_set()],
    };
    cfg.validate().expect("SP config");
    let mut idp = IdpMetadata::parse(&read(&args[4])).expect("IdP metadata");
    if trust_test {
        eprintln!(
            "WARNING: trusting an expired test IdP certificate ({})",
            idp.entity_id
        );
        idp = idp.trusting_expired_test_certificate();
    }
    let app = Arc::new(App {
        cfg,
        idp,
        level,
        pending: Mutex::new(HashMap::new()),
        used_assertions: Mutex::new(HashSet::new()),
    });
    let router = Router::new()
        .route("/accesso/spid/metadata", get(metadata))
        .route("/accesso/spid/login", get(login))
        .route("/accesso/spid/acs", post(acs))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    eprintln!("listening on {base}");
    axum::serve(listener, router).await.unwrap();
}

async fn metadata(State(app): State<Arc<App>>) -> Response {
    match saml::sp_metadata(&app.cfg) {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    level: Option<u8>,
    binding: Option<String>,
}

async fn login(State(app): State<Arc<App>>, Query(q): Query<LoginQuery>) -> Response {
    let relay = uuid::Uuid::new_v4().simple().to_string();
    let level = match q.level {
        Some(1) => SpidLevel::L1,
        Some(2) => SpidLevel::L2,
        Some(3) => SpidLevel::L3,
        _ => app.level,
    };
    let mut opts = RequestOptions::new(level, &relay);
    opts.form_script_src = Some("/static/spid-autosubmit.js");
    if q.binding.as_deref() == Some("redirect") {
        opts.binding = saml::Binding::Redirect;
    }
    match saml::authn_request(&app.cfg, &app.idp, &opts) {
        Ok(req) => {
            app.pending.lock().unwrap().insert(
                req.id.clone(),
                Pending {
                    issue_instant: req.issue_instant,
                    level: req.level,
                },
            );
            let cookie = format!("spid_pending={}; Path=/accesso/spid; HttpOnly", req.id);
            match req.redirect_url {
                Some(url) => (
                    StatusCode::FOUND,
                    [(header::SET_COOKIE, cookie), (header::LOCATION, url)],
                )
                    .into_response(),
                None => (
                    [(header::SET_COOKIE, cookie)],
                    Html(req.post_form_html.unwrap()),
                )
                    .into_response(),
            }
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';').find_map(|kv| {
                let (k, val) = kv.trim().split_once('=')?;
                (k == name).then(|| val.to_string())
            })
        })
}

fn error(status: u16, code: &str, detail: &str, msg: &str) -> Response {
    let body = serde_json::json!({"error": code, "detail": detail, "message": msg});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

async fn acs(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    let Some(req_id) = cookie(&headers, "spid_pending") else {
        return error(
            400,
            "spid.no_pending_request",
            "no pending login",
            "Sessione di accesso scaduta.",
        );
    };
    let Some(p) = app.pending.lock().unwrap().remove(&req_id) else {
        return error(
            400,
            "spid.no_pending_request",
            "unknown request",
            "Sessione di accesso scaduta.",
        );
    };
    let exp = saml::Expectations::new(
        &req_id,
        p.issue_instant,
        app.cfg.acs_url(),
        &app.cfg.entity_id,
        &app.idp,
        p.level,
    );
    let app2 = app.clone();
    let seen = move |id: &str| app2.used_assertions.lock().unwrap().contains(id);
    match saml::validate_response(&form.saml_response, &exp, &seen) {
        Ok(id) => {
            // Record the assertion (the portal does this with an atomic INSERT).
            if !app
                .used_assertions
                .lock()
                .unwrap()
                .insert(id.assertion_id.clone())
            {
                return error(403, "spid.replay", "replay", "Risposta già utilizzata.");
            }
            axum::Json(serde_json::json!({
                "fiscal_number": id.fiscal_number,
                "name": id.name,
                "family_name": id.family_name,
                "email": id.email,
                "mobile_phone": id.mobile_phone,
                "spid_code": id.spid_code,
                "level": id.level.as_u8(),
                "idp": id.idp_entity_id,
                "session_index": id.session_index,
                "assertion_id": id.assertion_id,
                "not_on_or_after": id.not_on_or_after.to_rfc3339(),
            }))
            .into_response()
        }
        Err(e) => {
            eprintln!("ACS rejected: {e}");
            error(
                e.http_status(),
                e.code(),
                &e.to_string(),
                &e.user_message_it(),
            )
        }
    }
}
