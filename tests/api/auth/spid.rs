//! SPID over SAML2, validated by AgID's own `spid-sp-test` (PyPI, installed by
//! `scripts/setup.sh --test`) against the running application: SP metadata,
//! AuthnRequests (HTTP-POST and HTTP-Redirect) and the response test-suite, in
//! which the tool plays the IdP and posts 111 crafted responses to our ACS —
//! for SPID with the `spid-sp-public` profile and for CIE with `cie-sp-public`.

use std::process::Command;

use sportello::onboarding;

use crate::helpers::{root, scratch, spawn_app_with, test_settings};

/// The federations the tool checks: the login/ACS path, its profile, the
/// response-suite levels and the suites that must have run.
struct Federation {
    path: &'static str,
    profile: &'static str,
    levels: &'static str,
    suites: &'static [&'static str],
}

const SPID: Federation = Federation {
    path: "/accesso/spid",
    profile: "spid-sp-public",
    levels: "2 1 3",
    suites: &["metadata", "authn-post-l2", "authn-redirect-l2", "responses-l1", "responses-l2", "responses-l3"],
};

/// "Entra con CIE" shares SPID's protocol rules; its profile checks the CIE
/// metadata census (administrative contact, cie: extensions, Company, the
/// eIDAS attribute set) and skips the SPID-only response checks 70 and 71.
/// One response level is enough: the levels' handling is the SPID suite's.
const CIE: Federation = Federation {
    path: "/accesso/cie",
    profile: "cie-sp-public",
    levels: "3",
    suites: &["metadata", "authn-post-l2", "authn-redirect-l2", "responses-l3"],
};

/// Starts an app trusting the tool's IdP for `federation`, runs
/// `spid_sp_test.sh` against it and checks every suite passed and ran.
async fn run_spid_sp_test(federation: &Federation) {
    let tool = root().join(".venv-test/bin/spid_sp_test");
    assert!(tool.exists(), "run scripts/setup.sh --test (installs spid-sp-test)");
    let dir = scratch().join(format!("spid-sp-test-{}", federation.profile));
    std::fs::create_dir_all(&dir).unwrap();
    let idp = Command::new(&tool).arg("--idp-metadata").output().unwrap();
    assert!(idp.status.success());
    std::fs::write(dir.join("idp.xml"), &idp.stdout).unwrap();

    let mut settings = test_settings();
    if federation.path == CIE.path {
        settings.cie_idp_metadata = vec![dir.join("idp.xml")];
    } else {
        settings.spid_idp_metadata = vec![dir.join("idp.xml")];
    }
    // spid-sp-test's IdP certificate expired in 2025; test deployments only.
    settings.saml_trust_test_idp_cert = true;
    // The tool starts a sign-in for each of its ~340 checks, all from 127.0.0.1.
    settings.sign_in_start_limit = 10_000;
    // spid-sp-test reaches us by IP: let 127.0.0.1 be Valmora's host here.
    settings.platform_hosts = vec!["localhost".into()];
    let app = spawn_app_with(settings).await;
    onboarding::add_domain(&app.db.admin, "valmora", "127.0.0.1").await.unwrap();

    let base = format!("http://127.0.0.1:{}", app.port);
    let out = dir.join("reports");
    let (path, profile, levels) = (federation.path, federation.profile, federation.levels);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(root().join("src/auth/saml/spid_sp_test.sh"))
            .arg(&base)
            .arg(&out)
            .env("SPID_SP_TEST", &tool)
            .env("SP_PATH", path)
            .env("SPID_PROFILE", profile)
            .env("SPID_LEVELS", levels)
            .env("PATH", format!("{}:{}", tool.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default()))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    assert!(output.status.success(), "spid-sp-test failed:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    let failures: Vec<&str> = report.lines().filter(|l| l.contains(" failed") && !l.contains(" 0 failed")).collect();
    assert!(failures.is_empty(), "{failures:?}");
    for suite in federation.suites {
        assert!(report.contains(&format!("{suite} [")), "suite {suite} did not run:\n{report}");
    }
    // Every suite that ran checked something (a 0-test suite means it was skipped).
    let empty: Vec<&str> = report.lines().filter(|l| l.contains(": 0 passed")).collect();
    assert!(empty.is_empty(), "suites that checked nothing: {empty:?}");
    // The response suite's good answers signed this citizen in.
    let mut users = 0;
    for tenant in sqlx::query_scalar::<_, uuid::Uuid>("select id from tenants").fetch_all(&app.db.admin).await.unwrap()
    {
        let mut tx = sportello::db::TenantTx::begin(&app.db.app, tenant).await.unwrap();
        users += sqlx::query_scalar::<_, i64>("select count(*) from identities").fetch_one(tx.conn()).await.unwrap();
    }
    assert!(users >= 1);
}

#[tokio::test]
async fn spid_sp_test_passes_metadata_authn_request_and_response_suites() {
    run_spid_sp_test(&SPID).await;
}

#[tokio::test]
async fn spid_sp_test_passes_for_cie_with_the_cie_public_profile() {
    run_spid_sp_test(&CIE).await;
}

#[tokio::test]
async fn cie_has_its_own_metadata_button_and_identity_provider() {
    let tool = root().join(".venv-test/bin/spid_sp_test");
    let dir = scratch().join("cie");
    std::fs::create_dir_all(&dir).unwrap();
    let idp = Command::new(&tool).arg("--idp-metadata").output().unwrap();
    std::fs::write(dir.join("idp.xml"), &idp.stdout).unwrap();
    let mut settings = test_settings();
    settings.cie_idp_metadata = vec![dir.join("idp.xml")];
    let app = spawn_app_with(settings).await;
    let mut browser = crate::helpers::Browser::new(&app, "valmora.localhost");
    let page = browser.get_text("/accesso").await;
    assert!(page.contains("/accesso/cie?next="));
    let metadata = browser.get_text("/accesso/cie/metadata").await;
    assert!(metadata.contains("entityID=\"http://valmora.localhost/accesso/cie/metadata\""));
    assert!(metadata.contains("http://valmora.localhost/accesso/cie/acs"));
    assert!(metadata.contains("<ds:Signature") || metadata.contains("Signature"));
    let chooser = browser.get_text("/accesso/cie").await;
    assert!(chooser.contains("/accesso/cie/login?idp="));
    let response = browser.get("/accesso/cie/login?level=3").await;
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("form-action http") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let form = response.text().await.unwrap();
    assert!(form.contains("name=\"SAMLRequest\"") && form.contains("name=\"RelayState\""));
    // This deployment configures no SPID IdP: there is nothing to send a request to.
    let mut other = crate::helpers::Browser::new(&app, "roccamare.localhost");
    assert_eq!(other.get("/accesso/spid/login").await.status(), 404, "no SPID IdP configured in this deployment");
}
