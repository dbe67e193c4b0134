//! Host -> tenant resolution, hostile hosts, suspension, onboarding, and cache
//! invalidation across nodes.

use std::time::Duration;

use sportello::{onboarding, tenancy::TenantStatus};

use crate::helpers::{copy_dir, get_on, root, spawn_app, spawn_app_with, spawn_node, test_settings};

#[tokio::test]
async fn platform_host_lists_the_demo_tenants() {
    let app = spawn_app().await;
    let html = app.get("127.0.0.1:8080", "/").await.text().await.unwrap();
    assert!(html.contains("http://valmora.localhost:8080/"));
    assert!(html.contains("http://roccamare.localhost:8080/"));
}

#[tokio::test]
async fn unknown_host_gets_the_platform_404() {
    let app = spawn_app().await;
    let response = app.get("nessuno.localhost", "/").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Sito non trovato"));
    assert!(!html.contains("Valmora") && !html.contains("Roccamare"));
}

#[tokio::test]
async fn hostile_host_headers_are_refused() {
    let app = spawn_app().await;
    let long = format!("{}.localhost", "a".repeat(300));
    for (host, status) in [
        (long.as_str(), 400),
        ("valmora.local host", 400),
        ("valmora.localhost\"><script>", 400),
        ("valmora_localhost", 400),
        ("valmora.localhost:99999", 400),
        ("valmora..localhost", 400),
        ("../../etc/passwd", 400),
        // Another tenant's host with an extra suffix is simply unknown.
        ("valmora.localhost.evil.example", 404),
        ("evil.valmora.localhost", 404),
    ] {
        let response = app
            .client
            .get(format!("http://127.0.0.1:{}/", app.port))
            .header("host", reqwest::header::HeaderValue::from_bytes(host.as_bytes()).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "host {host:?}");
        assert!(!response.text().await.unwrap().contains("Comune di Valmora"), "host {host:?}");
    }
    // Case, port and a trailing dot are normalised, not refused.
    assert_eq!(app.get("VALMORA.localhost.:8080", "/").await.status(), 200);
}

#[tokio::test]
async fn forwarded_host_is_ignored_from_untrusted_peers() {
    let app = spawn_app().await;
    let html = app.get_with("127.0.0.1", "/", &[("x-forwarded-host", "valmora.localhost")]).await.text().await.unwrap();
    assert!(html.contains("Enti attivi"), "the platform page, for the real Host");
    assert!(!html.contains("data-element=\"quick-links\""), "spoofed X-Forwarded-Host must not pick the tenant");

    let mut settings = test_settings();
    settings.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let behind_proxy = spawn_app_with(settings).await;
    let html = behind_proxy
        .get_with("127.0.0.1", "/", &[("x-forwarded-host", "valmora.localhost, proxy.internal")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("data-element=\"quick-links\"") && html.contains("Comune di Valmora"),
        "a trusted proxy's X-Forwarded-Host is honoured"
    );
}

#[tokio::test]
async fn suspended_tenant_shows_a_notice_and_no_data() {
    let app = spawn_app().await;
    assert!(onboarding::set_status(&app.db.admin, "valmora", TenantStatus::Suspended).await.unwrap());
    let response = poll_status(&app.client, app.port, "valmora.localhost", "/servizi/cambio-residenza", 503).await;
    let html = response.text().await.unwrap();
    assert!(html.contains("Servizio sospeso"));
    assert!(!html.contains("Cambio di residenza"), "no data of the suspended ente");
    assert_eq!(app.get("valmora.localhost", "/branding/logo.svg").await.status(), 503);
    // The other ente is untouched.
    assert_eq!(app.get("roccamare.localhost", "/").await.status(), 200);
    onboarding::set_status(&app.db.admin, "valmora", TenantStatus::Active).await.unwrap();
    poll_status(&app.client, app.port, "valmora.localhost", "/", 200).await;
}

#[tokio::test]
async fn custom_domains_reach_their_tenant() {
    let app = spawn_app().await;
    // Declared in tenants/roccamare/tenant.toml.
    let html = app.get("servizi.comune.roccamare.sv.it", "/").await.text().await.unwrap();
    assert!(html.contains("Comune di Roccamare"));
    // Attached from the CLI functions, then detached.
    onboarding::add_domain(&app.db.admin, "valmora", "servizi.valmora.example").await.unwrap();
    poll_status(&app.client, app.port, "servizi.valmora.example", "/", 200).await;
    assert!(
        onboarding::add_domain(&app.db.admin, "roccamare", "servizi.valmora.example").await.is_err(),
        "a host belongs to one tenant"
    );
    assert!(onboarding::remove_domain(&app.db.admin, "servizi.valmora.example").await.unwrap());
    poll_status(&app.client, app.port, "servizi.valmora.example", "/", 404).await;
    assert!(!onboarding::remove_domain(&app.db.admin, "valmora.localhost").await.unwrap(), "the primary host stays");
}

#[tokio::test]
async fn a_change_on_one_node_reaches_every_node_through_notify() {
    let app = spawn_app().await;
    let (other_port, _other) = spawn_node(&app.db).await;
    // Warm both nodes' caches.
    for port in [app.port, other_port] {
        for _ in 0..2 {
            assert_eq!(get_on(&app.client, port, "valmora.localhost", "/").await.status(), 200);
        }
    }
    let cached = get_on(&app.client, other_port, "valmora.localhost", "/").await;
    assert_eq!(cached.headers()["x-page-cache"], "hit");

    onboarding::set_status(&app.db.admin, "valmora", TenantStatus::Suspended).await.unwrap();
    for port in [app.port, other_port] {
        poll_status(&app.client, port, "valmora.localhost", "/", 503).await;
    }
}

/// Polls (bounded) until `path` answers `status`: notifications are asynchronous.
async fn poll_status(client: &reqwest::Client, port: u16, host: &str, path: &str, status: u16) -> reqwest::Response {
    for _ in 0..100 {
        let response = get_on(client, port, host, path).await;
        if response.status() == status {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{host}{path} never answered {status}");
}

#[tokio::test]
async fn tenant_apply_from_the_cli_is_idempotent() {
    let app = spawn_app().await;
    let dir = tempdir("testopoli");
    copy_dir(&root().join("tenants/valmora"), &dir);
    let toml =
        std::fs::read_to_string(dir.join("tenant.toml")).unwrap().replace("Comune di Valmora", "Comune di Testopoli");
    std::fs::write(dir.join("tenant.toml"), toml).unwrap();

    let run = |args: &[&str]| crate::helpers::sportello_cli(&app, args);
    let dir_arg = dir.to_str().unwrap();
    assert!(run(&["tenant", "apply", dir_arg]).contains("testopoli: created"));
    let before: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select max(updated_at) from tenants").fetch_one(&app.db.admin).await.unwrap();
    assert!(run(&["tenant", "apply", dir_arg]).contains("testopoli: unchanged"));
    let after: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select max(updated_at) from tenants").fetch_one(&app.db.admin).await.unwrap();
    assert_eq!(before, after, "a second apply writes nothing");

    let html = app.get("testopoli.localhost", "/").await.text().await.unwrap();
    assert!(html.contains("Comune di Testopoli"));

    // An edit is applied and reaches the running node.
    let procedure = dir.join("procedures/cambio-residenza.toml");
    let text = std::fs::read_to_string(&procedure).unwrap().replacen("title = \"", "title = \"Nuovo: ", 1);
    std::fs::write(&procedure, text).unwrap();
    assert!(run(&["tenant", "apply", dir_arg]).contains("testopoli: updated (1 changes)"));
    let mut updated = false;
    for _ in 0..100 {
        let html = app.get("testopoli.localhost", "/servizi/cambio-residenza").await.text().await.unwrap();
        if html.contains("Nuovo: ") {
            updated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(updated, "the page cache was invalidated");

    let list = run(&["tenant", "list"]);
    assert!(list.contains("testopoli") && list.contains("valmora") && list.contains("testopoli.localhost"));
    assert!(run(&["tenant", "suspend", "testopoli"]).contains("suspended"));
    assert!(run(&["tenant", "list"]).lines().any(|l| l.starts_with("testopoli") && l.contains("suspended")));
    assert!(run(&["tenant", "domain", "add", "testopoli", "servizi.testopoli.example"]).contains("attached"));
}

#[tokio::test]
async fn invalid_recipes_are_refused_with_a_clear_error() {
    let dir = tempdir("rotto");
    copy_dir(&root().join("tenants/valmora"), &dir);
    let themes = vec!["base".to_string(), "mare".to_string()];
    let languages = vec!["en".to_string(), "it".to_string()];
    std::fs::write(
        dir.join("procedures/cambio-residenza.toml"),
        std::fs::read_to_string(dir.join("procedures/cambio-residenza.toml"))
            .unwrap()
            .replace("office = \"", "office = \"NON-ESISTE"),
    )
    .unwrap();
    let error = onboarding::TenantRecipe::load(&dir, &themes, &languages).err().expect("refused").to_string();
    assert!(error.contains("cambio-residenza.toml") && error.contains("NON-ESISTE"), "{error}");

    let text =
        std::fs::read_to_string(dir.join("tenant.toml")).unwrap().replace("theme = \"base\"", "theme = \"nessuno\"");
    std::fs::write(dir.join("tenant.toml"), text).unwrap();
    let error = onboarding::TenantRecipe::load(&dir, &themes, &languages).err().expect("refused").to_string();
    assert!(error.contains("unknown theme"), "{error}");

    // CIE names the seat by its cadastral code: without one the recipe stops.
    let dir = tempdir("senza-catasto");
    copy_dir(&root().join("tenants/valmora"), &dir);
    let text = std::fs::read_to_string(dir.join("tenant.toml"))
        .unwrap()
        .replace("cadastral_code = \"A794\"", "cadastral_code = \"Valmora\"");
    std::fs::write(dir.join("tenant.toml"), text).unwrap();
    let error = onboarding::TenantRecipe::load(&dir, &themes, &languages).err().expect("refused").to_string();
    assert!(error.contains("cadastral_code") && error.contains("H501"), "{error}");
}

fn tempdir(slug: &str) -> std::path::PathBuf {
    let dir = crate::helpers::scratch().join(format!("recipes-{}", uuid::Uuid::new_v4().simple())).join(slug);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
