//! Cross-cutting HTTP behaviour: security headers, the embeddable banner,
//! request ids, health and readiness, static assets.

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_page_carries_security_headers() {
    let app = spawn_app().await;
    for (host, path) in [
        ("valmora.localhost", "/"),
        ("valmora.localhost", "/servizi"),
        ("valmora.localhost", "/servizi/cambio-residenza"),
        ("valmora.localhost", "/cerca?q=tari"),
        ("valmora.localhost", "/branding/logo.svg"),
        ("valmora.localhost", "/non-esiste"),
        ("nessuno.localhost", "/"),
        ("127.0.0.1", "/"),
        ("127.0.0.1", "/static/themes/base/sportello.css"),
    ] {
        let response = app.get(host, path).await;
        let h = response.headers();
        let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{host}{path}: no CSP")).to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{host}{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{host}{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{host}{path}");
        assert!(h.contains_key("x-request-id"), "{host}{path}");
    }
}

#[tokio::test]
async fn only_the_access_banner_may_be_framed_and_only_by_the_entes_site() {
    let app = spawn_app().await;
    let response = app.get("valmora.localhost", "/embed/banner").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'self' https://www.comune.valmora.bg.it"), "{csp}");
    assert!(response.headers().get("x-frame-options").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("Comune di Valmora") && html.contains("https://valmora.localhost/"));

    let instructions = app.get("valmora.localhost", "/banner-accesso").await;
    assert!(instructions.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let html = instructions.text().await.unwrap();
    assert!(
        html.contains("&lt;iframe src=&quot;https:&#x2F;&#x2F;valmora.localhost&#x2F;embed&#x2F;banner&quot;"),
        "snippet shown escaped"
    );
}

#[tokio::test]
async fn error_pages_show_the_request_id_that_the_logs_carry() {
    let app = spawn_app().await;
    let response = app.get("valmora.localhost", "/non-esiste").await;
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(response.text().await.unwrap().contains(&id));
    let response = app.get_with("valmora.localhost", "/non-esiste", &[("x-request-id", "proxy-assigned-42")]).await;
    assert_eq!(response.headers()["x-request-id"], "proxy-assigned-42");
}

#[tokio::test]
async fn health_and_readiness_answer_on_any_host() {
    let app = spawn_app().await;
    let health = app.get("whatever.example", "/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("127.0.0.1", "/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "ok");
}

#[tokio::test]
async fn design_system_and_theme_assets_are_served_locally() {
    let app = spawn_app().await;
    let css = app.get("valmora.localhost", "/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css").await;
    assert_eq!(css.status(), 200, "run `npm ci` (the README's setup does)");
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    assert_eq!(app.get("valmora.localhost", "/static/vendor/bootstrap-italia/svg/sprites.svg").await.status(), 200);
    assert_eq!(app.get("valmora.localhost", "/static/themes/mare/mare.css").await.status(), 200);
    assert_eq!(app.get("valmora.localhost", "/static/themes/base/../../Cargo.toml").await.status(), 404);
}
