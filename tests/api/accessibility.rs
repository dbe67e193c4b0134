//! Pages in a real browser (Debian's headless Chromium), each at 1280 and at 390 px
//! wide: no WCAG 2.1 A/AA violation found by axe-core, nothing refused by our
//! Content-Security-Policy, no visible text on top of other text
//! (`tests/browser/overlap.mjs`) — in Italian and again in English (the language
//! cookie set for the enti that offer it).

use std::process::Command;

use crate::helpers::{root, spawn_app, spawn_app_with, test_settings};

/// Runs the browser audit over `args` (`--cookie …` pairs, then URLs); its JSON report.
/// `SPORTELLO_SCREENSHOTS=<dir>` keeps a full-page screenshot of every page and
/// width there, to look at what was audited.
async fn audit(args: Vec<String>) -> String {
    let screenshots = std::env::var("SPORTELLO_SCREENSHOTS").ok().map(|dir| vec!["--screenshots".to_string(), dir]);
    crate::helpers::browser_script("audit.mjs", screenshots.unwrap_or_default().into_iter().chain(args).collect()).await
}

/// The pages at `paths` of `base`, signed in with the session `sid`, in Italian
/// and again in English: every one reached (no sign-in redirect, nothing missing).
async fn audit_signed_in(base: &str, sid: &str, paths: &[String]) {
    audit_with_cookie(base, &format!("sportello_sid={sid}"), paths).await
}

/// The same, with the session cookie `name=value` (the platform console's has its own name).
async fn audit_with_cookie(base: &str, cookie: &str, paths: &[String]) {
    let mut args = vec!["--cookie".to_string(), base.to_string(), cookie.to_string()];
    args.extend(paths.iter().map(|path| format!("{base}{path}")));
    for args in [args.clone(), in_english(base, args)] {
        let report = audit(args).await;
        assert!(!report.contains("\"status\": 303") && !report.contains("\"status\": 404"), "{report}");
    }
}

/// The same pages again with the language cookie of `base` set to English.
fn in_english(base: &str, mut args: Vec<String>) -> Vec<String> {
    let mut english = vec!["--cookie".to_string(), base.to_string(), "sportello_lang=en".to_string()];
    english.append(&mut args);
    english
}

/// The overlap check can fail: on small pages with Bootstrap Italia's CSS and fonts it
/// finds a floating label on the heading above it (and no more once `sportello.css`
/// gives the label its room), a badge on a paragraph, a button on a heading at phone
/// width; and nothing in a normal form with hidden, clipped and off-page text on it.
#[test]
fn the_overlap_check_finds_text_on_text_and_nothing_in_a_normal_form() {
    let output = Command::new("node")
        .arg(root().join("tests/browser/overlap_selftest.mjs"))
        .current_dir(root())
        .output()
        .expect("node (installed by scripts/setup.sh)");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "overlap self-test:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(report.matches("\"ok\": true").count(), 5, "{report}");
}

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
            "/backoffice/accesso",
            "/banner-accesso",
            "/embed/banner",
            "/non-esiste",
        ] {
            urls.push(format!("http://{tenant}.localhost:{}{path}", app.port));
        }
    }
    urls.push(format!("http://valmora.localhost:{}/servizi/categoria/tributi", app.port));
    urls.push(format!("http://valmora.localhost:{}/accesso/crs", app.port));
    // A local staff account's enrolment page (QR code, key, password, first code).
    let mut tx = sportello::db::TenantTx::begin(&app.db.app, app.tenant_id_of("valmora").await).await.unwrap();
    let token = sportello::auth::staff_local::store::create_enrolment(&mut tx, "anna.neri@valmora.example")
        .await
        .unwrap()
        .expect("Anna is Valmora staff");
    tx.commit().await.unwrap();
    urls.push(format!("http://valmora.localhost:{}/backoffice/accesso/attiva?t={token}", app.port));
    // Valmora offers English; the platform too. Roccamare is Italian only.
    let english_urls: Vec<String> =
        urls.iter().filter(|u| u.contains("valmora.") || u.contains("127.0.0.1")).cloned().collect();
    let valmora = format!("http://valmora.localhost:{}", app.port);
    let platform = format!("http://127.0.0.1:{}", app.port);
    let report = audit(in_english(&valmora, in_english(&platform, english_urls))).await;
    assert!(report.contains(r#""status": 200"#), "{report}");
    let report = audit(urls).await;
    assert!(report.contains("\"violations\": []"), "{report}");
}

/// The personal area and the counter, signed in: a draft with a repeatable group,
/// its summary, a submitted case with a request from the office, the messages,
/// assistance and delegation pages.
#[tokio::test]
async fn personal_area_pages_pass_axe_and_respect_the_csp() {
    use crate::{auth::VALMORA, cases};
    let app = spawn_app_with(crate::helpers::s3_settings().await).await;
    let mut maria = cases::citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let submitted = cases::submitted_case(&app, &mut maria).await;
    let request = cases::request_integration(&app, submitted).await;
    let draft = cases::start(&mut maria, "iscrizione-mensa-scolastica").await;
    let generic = cases::start(&mut maria, cases::GENERIC).await;
    let base = format!("http://{VALMORA}:{}", app.port);
    let paths = [
        "/area-personale".to_string(),
        format!("/servizi/{}/richiesta", cases::GENERIC),
        format!("/area-personale/pratiche/{draft}/passo/1"),
        format!("/area-personale/pratiche/{generic}/passo/1"),
        format!("/area-personale/pratiche/{generic}/riepilogo"),
        format!("/area-personale/pratiche/{submitted}"),
        format!("/area-personale/pratiche/{submitted}/integrazioni/{request}"),
        "/area-personale/messaggi".to_string(),
        "/area-personale/assistenza".to_string(),
        "/area-personale/deleghe".to_string(),
    ];
    audit_signed_in(&base, &maria.cookies["sportello_sid"], &paths).await;
}

/// The back office, signed in as staff: the home, the inbox with cases and
/// filters, a case desk with a request, a note, an opinion and the actions.
#[tokio::test]
async fn back_office_pages_pass_axe_and_respect_the_csp() {
    use crate::{auth::VALMORA, backoffice, cases};
    let app = spawn_app_with(crate::helpers::s3_settings().await).await;
    let _provider = backoffice::offices(&app).await;
    let mut maria = cases::citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let submitted = cases::submitted_case(&app, &mut maria).await;
    let waiting = cases::submitted_case(&app, &mut maria).await;
    cases::request_integration(&app, waiting).await;
    let mut giulia = backoffice::staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    let desk = format!("/backoffice/pratiche/{submitted}");
    giulia.post(&format!("{desk}/note"), &[("testo", "Controllare la planimetria")]).await;
    giulia.post(&format!("{desk}/pareri"), &[("ufficio", "UO-ANAG"), ("testo", "Residente?")]).await;
    let base = format!("http://{VALMORA}:{}", app.port);
    let paths = [
        "/backoffice".to_string(),
        "/backoffice/pratiche".to_string(),
        "/backoffice/pratiche?stato=tutte&q=Rossi".to_string(),
        desk.clone(),
        format!("/backoffice/pratiche/{waiting}"),
    ];
    audit_signed_in(&base, &giulia.cookies["sportello_sid"], &paths).await;
}

/// The ente admin console, signed in as Valmora's admin: home, catalogue tree, a
/// procedure's editor with a draft, its preview and publication pages, the form
/// builder, a group's field editor, a new file field and the form preview, the
/// offices, the staff (list, invitation, a member, one invited), the permission
/// matrix and the staff member's own page.
#[tokio::test]
async fn admin_console_pages_pass_axe_and_respect_the_csp() {
    use crate::{admin, auth::VALMORA, backoffice};
    let app = spawn_app().await;
    let _provider = backoffice::offices(&app).await;
    let mut mario = backoffice::staff(&app, VALMORA, admin::ADMIN).await;
    let slug = "iscrizione-mensa-scolastica";
    let saved = admin::save_details(
        &mut mario,
        slug,
        &[
            ("title", "Iscrizione alla mensa scolastica"),
            ("summary", "Iscrivi i tuoi figli alla mensa."),
            ("office", "UO-SERV"),
        ],
    )
    .await;
    assert_eq!(saved.status(), 303);
    let base = format!("http://{VALMORA}:{}", app.port);
    let p = format!("/admin/procedure/{slug}");
    let paths = [
        "/admin".to_string(),
        "/admin/catalogo".to_string(),
        p.clone(),
        format!("{p}/anteprima"),
        format!("{p}/pubblica"),
        format!("{p}/modulo"),
        format!("{p}/modulo/campo?chiave=children"),
        format!("{p}/modulo/campo?passo=1&tipo=file"),
        format!("{p}/modulo/anteprima?passo=1"),
        format!("{p}/flusso"),
        format!("{p}/flusso/stato?chiave=integrazione"),
        format!("{p}/flusso/azione?chiave=accogli"),
        format!("{p}/flusso/scadenza"),
        format!("{p}/flusso/documento?chiave=provvedimento"),
        "/admin/aspetto".to_string(),
        "/admin/aspetto/anteprima".to_string(),
        "/admin/uffici".to_string(),
        "/admin/uffici/nuovo".to_string(),
        "/admin/uffici/UO-SERV".to_string(),
        "/admin/personale".to_string(),
        "/admin/personale/invita".to_string(),
        "/admin/personale/giulia.bianchi@valmora.example".to_string(),
        "/admin/personale/luca.verdi@valmora.example".to_string(),
        "/admin/permessi".to_string(),
        "/backoffice/profilo".to_string(),
    ];
    // Someone invited, so the list and their page show that standing.
    let invited = [("email", "luca.verdi@valmora.example"), ("sign_in", "local"), ("role", "operator")];
    assert_eq!(mario.post("/admin/personale/invita", &invited).await.status(), 303);
    audit_signed_in(&base, &mario.cookies["sportello_sid"], &paths).await;
}

/// The platform operator's console on admin.localhost: its sign-in, an
/// enrolment link's page, the table of tenants, an empty search, a tenant's page
/// and the health page.
#[tokio::test]
async fn platform_console_pages_pass_axe_and_respect_the_csp() {
    let app = spawn_app().await;
    let (ops, _) = crate::platform::enrolled_operator(&app).await;
    let token =
        sportello::platform::operators::create_enrolment(&app.db.admin, "second@sportello.example", "platform-support")
            .await
            .unwrap();
    let base = format!("http://admin.localhost:{}", app.port);
    let paths = [
        "/console".to_string(),
        "/console?q=nessuno".to_string(),
        "/console/enti/valmora".to_string(),
        "/console/salute".to_string(),
        "/console/accesso".to_string(),
        format!("/console/attiva?t={token}"),
    ];
    audit_with_cookie(&base, &format!("sportello_platform={}", ops.cookies["sportello_platform"]), &paths).await;
}
