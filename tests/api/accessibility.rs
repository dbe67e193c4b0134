//! Pages in a real browser (Debian's headless Chromium): no WCAG 2.1 A/AA violation
//! found by axe-core, and nothing refused by our Content-Security-Policy.

use std::process::Command;

use crate::helpers::{root, spawn_app_with, test_settings};

#[tokio::test]
async fn public_pages_pass_axe_and_respect_the_csp() {
    // With a CA configured, so that the card page shows its instructions.
    let app = spawn_app_with(sportello::config::Settings {
        crs_ca_files: vec![crate::auth::crs::a_ca_file()],
        ..test_settings()
    })
    .await;
    let mut urls = vec![format!("http://127.0.0.1:{}/", app.port)];
    for tenant in ["valmora", "roccamare"] {
        for path in [
            "/",
            "/servizi",
            "/servizi/rimborso-tari",
            "/cerca?q=tari",
            "/accesso",
            "/banner-accesso",
            "/embed/banner",
            "/non-esiste",
        ] {
            urls.push(format!("http://{tenant}.localhost:{}{path}", app.port));
        }
    }
    urls.push(format!("http://valmora.localhost:{}/servizi/categoria/tributi", app.port));
    urls.push(format!("http://valmora.localhost:{}/accesso/crs", app.port));
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(root().join("tests/browser/audit.mjs"))
            .args(&urls)
            .current_dir(root())
            .output()
            .expect("node (installed by scripts/setup.sh)")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "browser audit failed:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("\"violations\": []"), "{report}");
}
