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

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out).unwrap();
    out
}

/// Every value of the header, joined (a response may say `Vary` more than once).
fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get_all(name).iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>().join(", ")
}

/// Pages go compressed as `Accept-Encoding` asks — the page cache keeps one
/// answer per encoding, and never gives bytes a visitor did not ask for.
#[tokio::test]
async fn pages_go_compressed_as_the_visitor_asks_and_the_cache_keeps_each_encoding() {
    let app = spawn_app().await;
    let host = "valmora.localhost";
    let plain = app.get_with(host, "/servizi", &[]).await;
    assert_eq!(header(&plain, "x-page-cache"), "miss");
    assert!(header(&plain, "vary").to_ascii_lowercase().contains("accept-encoding"));
    assert_eq!(header(&plain, "content-encoding"), "", "no Accept-Encoding, no encoding");
    let plain = plain.bytes().await.unwrap();
    for (accept, token) in [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip;q=0", "")] {
        for round in ["first", "again"] {
            let response = app.get_with(host, "/servizi", &[("accept-encoding", accept)]).await;
            assert_eq!(header(&response, "x-page-cache"), "hit", "{accept} {round}: the same entry");
            assert_eq!(header(&response, "content-encoding"), token, "{accept}");
            assert!(header(&response, "vary").to_ascii_lowercase().contains("accept-encoding"));
            let length: usize = header(&response, "content-length").parse().unwrap();
            let body = response.bytes().await.unwrap();
            assert_eq!(body.len(), length);
            let decoded = match token {
                "br" => unbrotli(&body),
                "gzip" => gunzip(&body),
                _ => body.to_vec(),
            };
            assert_eq!(decoded, plain.to_vec(), "{accept}: the same page");
            if !token.is_empty() {
                assert!(body.len() * 3 < plain.len(), "{accept}: {} of {} bytes", body.len(), plain.len());
            }
        }
    }
    // A page made for one visitor (a 404 here, never cached) is compressed on the fly.
    let missing = app.get_with(host, "/non-esiste", &[("accept-encoding", "gzip")]).await;
    assert_eq!((missing.status().as_u16(), header(&missing, "content-encoding")), (404, "gzip".into()));
    assert!(String::from_utf8(gunzip(&missing.bytes().await.unwrap())).unwrap().contains("</html>"));
}

/// Design-system and theme files live under the build's content-hashed root,
/// kept by browsers for a year; relative references (the fonts) stay inside it.
#[tokio::test]
async fn assets_have_content_hashed_immutable_urls_and_go_precompressed() {
    let app = spawn_app().await;
    let host = "valmora.localhost";
    let home = app.get(host, "/").await.text().await.unwrap();
    let css_at = home.find("/vendor/bootstrap-italia/css/bootstrap-italia.min.css").expect("the stylesheet");
    let root = &home[home[..css_at].rfind("\"").unwrap() + 1..css_at];
    let build = root.strip_prefix("/static/").expect("under /static/<build>");
    assert!(build.len() == 12 && build.bytes().all(|b| b.is_ascii_hexdigit()), "{root}");
    assert!(
        home.contains(&format!("{root}/themes/base/sportello.css"))
            && home.contains(&format!("{root}/vendor/bootstrap-italia/svg/sprites.svg#it-"))
    );

    let css_url = format!("{root}/vendor/bootstrap-italia/css/bootstrap-italia.min.css");
    let css = app.get_with(host, &css_url, &[("accept-encoding", "br")]).await;
    assert_eq!(css.status(), 200);
    assert_eq!(header(&css, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&css, "content-encoding"), "br");
    assert!(header(&css, "content-type").starts_with("text/css"));
    let etag = header(&css, "etag");
    let on_disk = std::fs::read(
        crate::helpers::root()
            .join(sportello::config::Settings::default().design_system_dir)
            .join("css/bootstrap-italia.min.css"),
    )
    .unwrap();
    assert_eq!(unbrotli(&css.bytes().await.unwrap()), on_disk);
    // Asked again with its validator: nothing to send.
    let again = app.get_with(host, &css_url, &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    // Without the build, or with an earlier one, the same file for a short while only.
    let unhashed = app.get(host, "/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css").await;
    assert_eq!((unhashed.status().as_u16(), header(&unhashed, "cache-control")), (200, "public, max-age=3600".into()));
    let earlier = app.get(host, "/static/000000000000/vendor/bootstrap-italia/css/bootstrap-italia.min.css").await;
    assert_eq!((earlier.status().as_u16(), header(&earlier, "cache-control")), (200, "public, max-age=300".into()));
    // The fonts the theme's stylesheet names, relative to it, are in the same build.
    let fonts = app.get(host, &format!("{root}/themes/base/fonts.css")).await.text().await.unwrap();
    let first = fonts.split("url('").nth(1).unwrap().split('\'').next().unwrap();
    let font_url = format!("{root}/themes/base/{first}");
    let font = app.get_with(host, &font_url, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(font.status(), 200, "{font_url}");
    assert_eq!(
        (header(&font, "content-type"), header(&font, "content-encoding")),
        ("font/woff2".into(), String::new())
    );
    // Nothing outside the roots.
    for path in [
        format!("{root}/themes/base/../../../Cargo.toml"),
        format!("{root}/themes/nessuno/x.css"),
        format!("{root}/etc/passwd"),
    ] {
        assert_eq!(app.get(host, &path).await.status(), 404, "{path}");
    }
}
