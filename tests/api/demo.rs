//! The embedded default as a newcomer meets it: the development identity
//! provider (`dev_pages = true` only) signs real SAML responses that the ente's
//! own assertion consumer service validates; staff sign in with SPID by fiscal
//! code at `/backoffice/accesso`. With `dev_pages` off the provider is gone and
//! what it signed is refused. And the same by clicking, in Chromium: a citizen
//! and an operator through a whole case, axe on every page they meet.

use crate::{
    auth::{ROCCAMARE, VALMORA},
    cases::{citizen, start, submitted_case},
    helpers::{location, spawn_app_with, test_settings, Browser, TestApp},
};

/// A citizen of the demo identities, and two Valmora staff members.
const MARIO_CITIZEN: &str = "RSSMRA80A01H501U";
const GIULIA_STAFF: &str = "BNCGLI82D45A794M";
const PAOLO_ROCCAMARE_STAFF: &str = "CLMPLA68H10G273Q";
pub const DEV_IDP: &str = "https%3A%2F%2Fidp.sviluppo.sportello.invalid";

/// Valmora's rows (forced RLS binds the owner role too).
async fn valmora(app: &TestApp) -> sportello::db::TenantTx {
    sportello::db::TenantTx::begin(&app.db.admin, app.tenant_id_of("valmora").await).await.unwrap()
}

pub async fn dev_app() -> TestApp {
    spawn_app_with(sportello::config::Settings { dev_pages: true, ..test_settings() }).await
}

/// The value of the hidden `name` field of an auto-posting form.
fn hidden(html: &str, name: &str) -> String {
    let at = html.find(&format!(r#"name="{name}" value=""#)).unwrap_or_else(|| panic!("{name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].replace("&#x2F;", "/").replace("&amp;", "&").replace("&quot;", "\"")
}

fn action(html: &str) -> String {
    let at = html.find(r#"action=""#).unwrap() + 8;
    html[at..at + html[at..].find('"').unwrap()].replace("&#x2F;", "/")
}

/// Through the development IdP, from `login` (the SP's start URL) to the ACS'
/// answer; `fiscal_code` picked at `level`.
pub async fn through_dev_idp(browser: &mut Browser, login: &str, fiscal_code: &str, level: &str) -> reqwest::Response {
    let response = browser.get(login).await;
    assert_eq!(response.status(), 200, "{login}");
    let form = response.text().await.unwrap();
    let sso = action(&form);
    assert!(sso.ends_with("/sviluppo/idp/spid/sso"), "{sso}");
    let (request, relay) = (hidden(&form, "SAMLRequest"), hidden(&form, "RelayState"));
    // The SP's self-posting form carries no CSRF token: the IdP's SSO is exempt.
    let chooser =
        browser.post_raw("/sviluppo/idp/spid/sso", &[("SAMLRequest", &request), ("RelayState", &relay)], true).await;
    assert_eq!(chooser.status(), 200);
    let page = chooser.text().await.unwrap();
    assert!(page.contains(fiscal_code) && page.contains("Solo sviluppo"), "{page}");
    let request_id = hidden(&page, "request_id");
    let answer = browser
        .post(
            "/sviluppo/idp/spid/rispondi",
            &[("fiscal_code", fiscal_code), ("level", level), ("request_id", &request_id), ("relay_state", &relay)],
        )
        .await;
    assert_eq!(answer.status(), 200);
    let posted = answer.text().await.unwrap();
    let acs = action(&posted);
    assert!(acs.ends_with("/accesso/spid/acs"), "{acs}");
    let (response, relay) = (hidden(&posted, "SAMLResponse"), hidden(&posted, "RelayState"));
    browser.post_raw("/accesso/spid/acs", &[("SAMLResponse", &response), ("RelayState", &relay)], false).await
}

#[tokio::test]
async fn a_citizen_signs_in_at_level_two_through_the_dev_idp_and_starts_a_case_that_needs_it() {
    let app = dev_app().await;
    let mut mario = Browser::new(&app, VALMORA);
    let choose = mario.get_text("/accesso/spid").await;
    assert!(choose.contains(r#"data-element="dev-idp""#) && choose.contains("solo sviluppo"), "{choose}");
    let done =
        through_dev_idp(&mut mario, &format!("/accesso/spid/login?idp={DEV_IDP}&level=2"), MARIO_CITIZEN, "2").await;
    assert_eq!(done.status(), 200, "the ACS accepts the development IdP's response");
    let home = mario.get_text("/area-personale").await;
    assert!(home.contains("Mario Rossi"), "{home}");
    // Cambio di residenza asks for level 2: the draft opens without another sign-in.
    start(&mut mario, "cambio-residenza").await;
    // A citizen session is never a staff session.
    assert_eq!(mario.get("/backoffice/pratiche").await.status(), 403);
}

#[tokio::test]
async fn an_operator_signs_in_by_fiscal_code_and_processes_a_case() {
    let app = dev_app().await;
    let mut citizen = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut citizen).await;

    let mut giulia = Browser::new(&app, VALMORA);
    let away = giulia.get("/backoffice/pratiche").await;
    assert_eq!(away.status(), 303);
    assert!(location(&away).starts_with("/backoffice/accesso?next="), "{}", location(&away));
    let page = giulia.get_text("/backoffice/accesso").await;
    assert!(page.contains(r#"data-element="staff-spid""#), "{page}");
    // Level 1 is below what Valmora asks of its staff.
    let low = through_dev_idp(
        &mut giulia,
        &format!("/accesso/spid/login?idp={DEV_IDP}&level=1&per=staff"),
        GIULIA_STAFF,
        "1",
    )
    .await;
    assert_eq!(low.status(), 403);
    assert_eq!(giulia.get("/backoffice/pratiche").await.status(), 303, "no staff session");
    let ok = through_dev_idp(
        &mut giulia,
        &format!("/accesso/spid/login?idp={DEV_IDP}&level=2&per=staff"),
        GIULIA_STAFF,
        "2",
    )
    .await;
    assert_eq!(ok.status(), 200);
    let inbox = giulia.get_text("/backoffice/pratiche").await;
    assert!(inbox.contains(&case.to_string()), "{inbox}");
    let taken = giulia.post(&format!("/backoffice/pratiche/{case}/transizioni/prendi_in_carico"), &[]).await;
    assert_eq!(taken.status(), 303);
    let status: String = sqlx::query_scalar("select status from cases where id = $1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!(status, "in_progress");
    let level: i16 =
        sqlx::query_scalar("select level from sessions where staff_subject = 'staff:giulia.bianchi@valmora.example'")
            .fetch_optional(valmora(&app).await.conn())
            .await
            .unwrap()
            .unwrap_or(0);
    assert_eq!(level, 2, "the level reached is recorded");

    // A citizen's fiscal code at the staff sign-in opens nothing.
    let mut stranger = Browser::new(&app, VALMORA);
    let refused = through_dev_idp(
        &mut stranger,
        &format!("/accesso/spid/login?idp={DEV_IDP}&level=2&per=staff"),
        MARIO_CITIZEN,
        "2",
    )
    .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn staff_of_one_ente_are_citizens_only_on_another() {
    let app = dev_app().await;
    // Paolo is staff of Roccamare; on Valmora the staff sign-in refuses him…
    let mut paolo = Browser::new(&app, VALMORA);
    let staff = through_dev_idp(
        &mut paolo,
        &format!("/accesso/spid/login?idp={DEV_IDP}&level=2&per=staff"),
        PAOLO_ROCCAMARE_STAFF,
        "2",
    )
    .await;
    assert_eq!(staff.status(), 403);
    // …and the citizen sign-in gives him a citizen session with no staff role.
    let citizen =
        through_dev_idp(&mut paolo, &format!("/accesso/spid/login?idp={DEV_IDP}&level=2"), PAOLO_ROCCAMARE_STAFF, "2")
            .await;
    assert_eq!(citizen.status(), 200);
    assert_eq!(paolo.get("/backoffice/pratiche").await.status(), 403);
    let subjects: Vec<Option<String>> =
        sqlx::query_scalar("select staff_subject from sessions").fetch_all(valmora(&app).await.conn()).await.unwrap();
    assert_eq!(subjects, [None], "one citizen session on Valmora");
    // On Roccamare he is staff.
    let mut at_home = Browser::new(&app, ROCCAMARE);
    let home = through_dev_idp(
        &mut at_home,
        &format!("/accesso/spid/login?idp={DEV_IDP}&level=2&per=staff"),
        PAOLO_ROCCAMARE_STAFF,
        "2",
    )
    .await;
    assert_eq!(home.status(), 200);
    assert_eq!(at_home.get("/backoffice/pratiche").await.status(), 200);
}

#[tokio::test]
async fn without_dev_pages_the_dev_idp_is_gone_and_what_it_signed_is_refused() {
    // A response the development IdP of one run signs…
    let dev = dev_app().await;
    let mut browser = Browser::new(&dev, VALMORA);
    let login = browser.get(&format!("/accesso/spid/login?idp={DEV_IDP}&level=2")).await.text().await.unwrap();
    let (request, relay) = (hidden(&login, "SAMLRequest"), hidden(&login, "RelayState"));
    let chooser =
        browser.post_raw("/sviluppo/idp/spid/sso", &[("SAMLRequest", &request), ("RelayState", &relay)], true).await;
    let request_id = hidden(&chooser.text().await.unwrap(), "request_id");
    let answer = browser
        .post(
            "/sviluppo/idp/spid/rispondi",
            &[("fiscal_code", MARIO_CITIZEN), ("level", "2"), ("request_id", &request_id), ("relay_state", &relay)],
        )
        .await
        .text()
        .await
        .unwrap();
    let signed = hidden(&answer, "SAMLResponse");

    // …is worth nothing where dev_pages is off: no such IdP, no such routes.
    let prod = spawn_app_with(test_settings()).await;
    let mut visitor = Browser::new(&prod, VALMORA);
    assert_eq!(visitor.get(&format!("/accesso/spid/login?idp={DEV_IDP}&level=2")).await.status(), 404);
    assert!(!visitor.get_text("/accesso/spid").await.contains("dev-idp"));
    for path in ["/sviluppo/idp/spid/sso", "/sviluppo/idp/cie/sso"] {
        assert_eq!(visitor.post_raw(path, &[("SAMLRequest", &request)], true).await.status(), 404, "{path}");
    }
    visitor.get_text("/registrazione").await; // a form page: the CSRF token
    let answer = visitor.post("/sviluppo/idp/spid/rispondi", &[("fiscal_code", MARIO_CITIZEN)]).await;
    assert_eq!(answer.status(), 404, "{}", answer.text().await.unwrap());
    // Posted to the ACS (even with a pending sign-in cookie copied over), it opens no session.
    visitor.cookies.extend(
        browser.cookies.iter().filter(|(k, _)| k.starts_with("sportello_saml")).map(|(k, v)| (k.clone(), v.clone())),
    );
    let refused =
        visitor.post_raw("/accesso/spid/acs", &[("SAMLResponse", &signed), ("RelayState", &relay)], false).await;
    assert_ne!(refused.status(), 200);
    assert_eq!(visitor.get("/area-personale").await.status(), 303);
}

/// Clicked through in Chromium (`tests/browser/journey.mjs`): the citizen signs
/// in through the development IdP, submits a case; the operator signs in at the
/// staff sign-in, finds it, takes it in charge and asks for an integration; the
/// citizen answers. axe finds nothing and the CSP refuses nothing on any page.
#[tokio::test]
async fn a_citizen_and_an_operator_click_through_a_case_in_chromium() {
    let app =
        spawn_app_with(sportello::config::Settings { dev_pages: true, ..crate::helpers::s3_settings().await }).await;
    let dir = crate::helpers::scratch().join(format!("journey-{}", app.port));
    std::fs::create_dir_all(&dir).unwrap();
    let attachment = dir.join("estratto-mappa.pdf");
    std::fs::write(&attachment, crate::cases::PDF).unwrap();
    let base = format!("http://{VALMORA}:{}", app.port);
    let args = vec![base, attachment.display().to_string()];
    let report = crate::helpers::browser_script("journey.mjs", args).await;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["steps"].as_array().unwrap().len(), 7, "{report:#}");
    assert!(report["pages"].as_array().unwrap().len() >= 20, "{report:#}");
    // What the clicks did is in the database: the answered request, the case back in progress.
    let reference = report["reference"].as_str().unwrap();
    let mut tx = valmora(&app).await;
    let (status, answered): (String, i64) = sqlx::query_as(
        "select c.status, (select count(*) from integration_requests r where r.case_id = c.id and r.answered_at is not null)
           from cases c where c.reference = $1",
    )
    .bind(reference)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!((status.as_str(), answered), ("in_progress", 1));
}
