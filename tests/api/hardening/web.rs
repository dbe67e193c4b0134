//! Symptoms 1, 9 and 11: the shared page cache, panics, development pages.

use axum::{middleware::from_fn_with_state, routing::get, Router};
use tower::ServiceExt;

use crate::{
    auth::VALMORA,
    cases::citizen,
    helpers::{spawn_app, spawn_app_with, test_settings, TestApp},
};

/// Every `href`/`src` of the page that starts with `prefix`.
fn links(html: &str, prefix: &str) -> Vec<String> {
    // Tera escapes the slashes of the URLs it inserts.
    let html = html.replace("&#x2F;", "/").replace("&amp;", "&");
    let mut found: Vec<String> = html.split('"').filter(|s| s.starts_with(prefix)).map(str::to_string).collect();
    found.dedup();
    found
}

async fn head(app: &TestApp, host: &str, path: &str) -> reqwest::StatusCode {
    let response = app
        .client
        .head(format!("http://127.0.0.1:{}{path}", app.port))
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn a_head_request_never_blanks_a_shared_page_logo_stylesheet_or_metadata() {
    let app = spawn_app().await;
    // The asset URLs, learnt under another spelling of the host (its own cache entry).
    let home = app.get("Valmora.localhost", "/").await.text().await.unwrap();
    let mut paths = vec![
        "/".to_string(),
        "/servizi".to_string(),
        "/servizi/cambio-residenza".to_string(),
        "/accesso/spid/metadata".to_string(),
    ];
    paths.extend(links(&home, "/branding/"));
    assert!(paths.iter().any(|p| p.starts_with("/branding/tema.css")), "{paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("/branding/logo")), "{paths:?}");
    for path in &paths {
        // A link checker asks first, while nothing is cached...
        assert_eq!(head(&app, VALMORA, path).await, 200, "HEAD {path}");
        // ...and every visitor after it still gets the whole answer.
        for visitor in 0..2 {
            let response = app.get(VALMORA, path).await;
            assert_eq!(response.status(), 200, "GET {path}");
            let body = response.bytes().await.unwrap();
            assert!(body.len() > 100, "GET {path} (visitor {visitor}) got {} bytes after a HEAD", body.len());
        }
        // A HEAD answered from the cache is still a HEAD.
        assert_eq!(head(&app, VALMORA, path).await, 200, "HEAD {path} from the cache");
    }
}

#[tokio::test]
async fn request_headers_never_shape_what_the_next_anonymous_visitor_receives() {
    let app = spawn_app().await;
    // The first visitor asks for compression and carries someone's CSRF cookie.
    let first = app
        .get_with(
            VALMORA,
            "/servizi",
            &[("accept-encoding", "gzip, br"), ("cookie", "sportello_csrf=token-of-the-first-visitor")],
        )
        .await;
    assert_eq!(first.status(), 200);
    let second = app.get(VALMORA, "/servizi").await;
    assert!(second.headers().get("content-encoding").is_none(), "bytes the client never asked for");
    let second = second.text().await.unwrap();
    assert!(!second.contains("token-of-the-first-visitor"));
    // What a plain visitor gets when nothing is cached.
    app.state.pages.invalidate_all();
    let reference = app.get(VALMORA, "/servizi").await.text().await.unwrap();
    assert_eq!(second, reference, "the same page for everyone");
}

#[tokio::test]
async fn a_crafted_group_row_number_gets_the_form_back_not_a_crash() {
    let app = spawn_app().await;
    let mut browser = citizen(&app, VALMORA, "rosa@example.it", "+393471110001").await;
    let id = crate::cases::start(&mut browser, "iscrizione-mensa-scolastica").await;
    // Straight to the step with the group of pupils.
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, tenant).await.unwrap();
    sqlx::query("update cases set step = 1 where id = $1").bind(id).execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    for name in ["children.18446744073709551615.child_name", "children.99999999999999999999999.x", "children._rows"] {
        let form = reqwest::multipart::Form::new()
            .text(name.to_string(), "18446744073709551615")
            .text("children.0.child_name", "Luca Bianchi");
        let response = browser.post_multipart(&format!("/area-personale/pratiche/{id}/passo/2"), form).await;
        let status = response.status();
        let page = response.text().await.unwrap();
        assert_eq!(status, 422, "{name}: {page}");
        assert!(page.contains("Luca Bianchi"), "what was typed is kept");
    }
}

#[tokio::test]
async fn a_panic_ends_as_the_standard_error_page_with_its_request_id() {
    let app = spawn_app().await;
    let state = app.state.clone();
    let tenant = crate::cases::tenant_of(&app, VALMORA).await;
    // The layers every site router has, around a handler that panics.
    let router: Router = Router::new()
        .route("/guasto", get(|| async { panic!("a bug") as &'static str }))
        .layer(sportello::web::errors::catch_panics())
        .layer(from_fn_with_state(state.clone(), sportello::web::errors::render_error_pages))
        .with_state(state);
    let mut request = axum::http::Request::get("/guasto")
        .header("x-request-id", "req-panic-1")
        .body(axum::body::Body::empty())
        .unwrap();
    request.extensions_mut().insert(sportello::tenancy::Site::Tenant(tenant));
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("req-panic-1"), "the request id is on the page: {page}");
    assert!(page.contains("Comune di Valmora"), "the ente's own error page");
}

#[tokio::test]
async fn development_pages_exist_only_when_switched_on_explicitly() {
    // `base_domain` left at `localhost`, as a deployment on custom domains might.
    let app = spawn_app().await;
    assert_eq!(app.state.settings.base_domain, "localhost");
    for path in ["/sviluppo/sms", "/sviluppo/posta"] {
        assert_eq!(app.get(VALMORA, path).await.status(), 404, "{path} without dev_pages");
    }
    let app = spawn_app_with(sportello::config::Settings { dev_pages: true, ..test_settings() }).await;
    for path in ["/sviluppo/sms", "/sviluppo/posta"] {
        assert_eq!(app.get(VALMORA, path).await.status(), 200, "{path} with dev_pages = true");
    }
}
