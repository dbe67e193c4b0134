//! Local staff accounts: enrolment from a one-time link (password, the
//! authenticator app's secret, a first code), sign-in with a TOTP code or a
//! recovery code, replayed codes refused, and the lock after five failures,
//! which holds on every node.

use sportello::{
    auth::{staff_local::store, totp},
    db::TenantTx,
};

use crate::{
    auth::VALMORA,
    helpers::{location, spawn_app, spawn_node, Browser, TestApp},
};

const ANNA: &str = "anna.neri@valmora.example";
const GIULIA: &str = "giulia.bianchi@valmora.example";
const PASSWORD: &str = "Una password lunga 2026";

async fn valmora(app: &TestApp) -> TenantTx {
    TenantTx::begin(&app.db.app, app.tenant_id_of("valmora").await).await.unwrap()
}

fn code(secret: &[u8], steps_ahead: i64) -> String {
    format!("{:06}", totp::code_at(secret, totp::step_of(chrono::Utc::now().timestamp()) + steps_ahead))
}

/// Enrols `email` through its link; the TOTP secret and the recovery codes.
async fn enrol(app: &TestApp, email: &str) -> (Vec<u8>, Vec<String>) {
    let mut tx = valmora(app).await;
    let token = store::create_enrolment(&mut tx, email).await.unwrap().expect("staff of Valmora");
    tx.commit().await.unwrap();
    let mut browser = Browser::new(app, VALMORA);
    let page = browser.get_text(&format!("/backoffice/accesso/attiva?t={token}")).await;
    assert!(page.contains("<svg") && page.contains(r#"data-element="totp-secret""#), "{page}");
    let secret: Vec<u8> = sqlx::query_scalar("select pending_secret from staff_enrolments where email = $1")
        .bind(email)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap();
    let shown = page.split(r#"data-element="totp-secret">"#).nth(1).unwrap().split('<').next().unwrap();
    assert_eq!(shown, totp::base32(&secret), "the key under the QR code is the stored secret");
    let fields = |code: &str| {
        vec![
            ("t", token.clone()),
            ("given_name", "Anna".to_string()),
            ("family_name", "Neri".to_string()),
            ("password", PASSWORD.to_string()),
            ("password_confirm", PASSWORD.to_string()),
            ("code", code.to_string()),
        ]
    };
    let wrong = fields("000000");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = browser.post("/backoffice/accesso/attiva", &wrong).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("Il codice non è corretto"));
    let good = fields(&code(&secret, 0));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post("/backoffice/accesso/attiva", &good).await;
    assert_eq!(done.status(), 200);
    let page = done.text().await.unwrap();
    let codes: Vec<String> = page
        .split(r#"data-element="recovery-codes">"#)
        .nth(1)
        .unwrap()
        .split("<code>")
        .skip(1)
        .map(|c| c.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    // The link is good once.
    assert_eq!(browser.get(&format!("/backoffice/accesso/attiva?t={token}")).await.status(), 404);
    (secret, codes)
}

async fn sign_in(browser: &mut Browser, email: &str, password: &str, code: &str) -> reqwest::Response {
    browser.get_text("/backoffice/accesso").await;
    browser.post("/backoffice/accesso/locale", &[("email", email), ("password", password), ("code", code)]).await
}

#[tokio::test]
async fn a_local_staff_account_signs_in_with_its_authenticator_and_recovery_codes() {
    let app = spawn_app().await;
    let (secret, recovery) = enrol(&app, ANNA).await;

    // The code that confirmed the enrolment is used up.
    let mut anna = Browser::new(&app, VALMORA);
    let replayed = sign_in(&mut anna, ANNA, PASSWORD, &code(&secret, 0)).await;
    assert_eq!(replayed.status(), 401);
    assert!(replayed.text().await.unwrap().contains("non corretti"));
    // The next step's code (one step of drift is allowed) opens a staff session.
    let next = code(&secret, 1);
    let ok = sign_in(&mut anna, ANNA, PASSWORD, &next).await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/backoffice");
    assert_eq!(anna.get("/backoffice/pratiche").await.status(), 200);
    // The same code again, from another browser: refused.
    let mut thief = Browser::new(&app, VALMORA);
    assert_eq!(sign_in(&mut thief, ANNA, PASSWORD, &next).await.status(), 401);
    // A recovery code works once.
    let mut phone_lost = Browser::new(&app, VALMORA);
    assert_eq!(sign_in(&mut phone_lost, ANNA, PASSWORD, &recovery[3]).await.status(), 303);
    let mut again = Browser::new(&app, VALMORA);
    assert_eq!(sign_in(&mut again, ANNA, PASSWORD, &recovery[3]).await.status(), 401);
    let method: String = sqlx::query_scalar("select method from sessions where staff_subject = $1 limit 1")
        .bind(format!("staff:{ANNA}"))
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!(method, "local");
}

#[tokio::test]
async fn five_failures_lock_the_account_on_every_node() {
    let app = spawn_app().await;
    let (secret, _) = enrol(&app, GIULIA).await;
    let mut browser = Browser::new(&app, VALMORA);
    for _ in 0..4 {
        assert_eq!(sign_in(&mut browser, GIULIA, "wrong password 2026", &code(&secret, 1)).await.status(), 401);
    }
    assert_eq!(sign_in(&mut browser, GIULIA, PASSWORD, "123456").await.status(), 401);
    // Another node (its own in-memory limits): the right password and code wait too.
    let (port, _node) = spawn_node(&app.db).await;
    let mut elsewhere = Browser::on_port(port, VALMORA);
    let locked = sign_in(&mut elsewhere, GIULIA, PASSWORD, &code(&secret, 1)).await;
    assert_eq!(locked.status(), 401);
    assert!(locked.text().await.unwrap().contains("bloccato"));
    // An e-mail that is not staff, or a staff member of another ente, has no account here.
    let mut stranger = Browser::new(&app, VALMORA);
    assert_eq!(sign_in(&mut stranger, "paolo.gialli@roccamare.example", PASSWORD, "123456").await.status(), 401);
    let mut tx = valmora(&app).await;
    assert_eq!(store::create_enrolment(&mut tx, "paolo.gialli@roccamare.example").await.unwrap(), None);
}
