//! Sign-in and access: registration with verified contacts, password + SMS code,
//! password alone, sessions, CSRF, rate limits, account management, the policy
//! walk, and isolation between enti.

pub mod crs;
mod gateways;
pub mod oidc;
mod spid;
mod staff_local;

use sportello::auth::authz::{parse_policy, Access, DEFAULT_POLICY};

use crate::helpers::{assert_translated, location, spawn_app, Browser, TestApp};

pub const VALMORA: &str = "valmora.localhost";
pub const ROCCAMARE: &str = "roccamare.localhost";
pub const PASSWORD: &str = "Corretto-Cavallo-9";

/// The last message the ente queued for `recipient` (the development outbox).
pub async fn last_message(app: &TestApp, tenant: &str, table: &str, recipient: &str) -> String {
    let id = app.tenant_id_of(tenant).await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    let body: String =
        sqlx::query_scalar(&format!("select body from {table} where recipient = $1 order by created_at desc limit 1"))
            .bind(recipient)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    body
}

fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).expect("a 6-digit code").to_string()
}

/// A registration form with `email` and `mobile` (every other answer valid).
pub fn registration<'a>(email: &'a str, mobile: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("given_name", "Maria"),
        ("family_name", "Rossi"),
        ("fiscal_code", "RSSMRA85T10A562S"),
        ("email", email),
        ("mobile", mobile),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("privacy", "1"),
    ]
}

/// Registers and verifies a citizen; returns the browser, still anonymous.
pub async fn register(app: &TestApp, host: &str, email: &str, mobile: &str) -> Browser {
    let mut browser = Browser::new(app, host);
    let page = browser.get_text("/registrazione").await;
    assert_translated(&page);
    let response = browser.post("/registrazione", &registration(email, mobile)).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/registrazione/verifica");
    let tenant = host.split('.').next().unwrap();
    let email_code = six_digits(&last_message(app, tenant, "mail_outbox", email).await);
    let e164 = sportello::input::normalize_mobile(mobile).unwrap();
    let sms_code = six_digits(&last_message(app, tenant, "sms_outbox", &e164).await);
    let response =
        browser.post("/registrazione/verifica", &[("email_code", &email_code), ("sms_code", &sms_code)]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/accesso?registered=1");
    browser
}

/// Signs in with password and SMS code; returns the session cookie value.
pub async fn sign_in_with_otp(app: &TestApp, browser: &mut Browser, email: &str, mobile: &str) -> String {
    browser.get_text("/accesso").await;
    let response =
        browser.post("/accesso/password", &[("email", email), ("password", PASSWORD), ("mode", "otp")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/accesso/codice");
    let tenant = browser.host.split('.').next().unwrap().to_string();
    let e164 = sportello::input::normalize_mobile(mobile).unwrap();
    let code = six_digits(&last_message(app, &tenant, "sms_outbox", &e164).await);
    let response = browser.post("/accesso/codice", &[("code", &code)]).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), "/area-personale");
    browser.cookies["sportello_sid"].clone()
}

#[tokio::test]
async fn a_citizen_registers_verifies_and_signs_in_with_password_and_sms_code() {
    let app = spawn_app().await;
    let mut browser = register(&app, VALMORA, "maria.rossi@example.it", "347 123 4567").await;
    // Before sign-in the personal area sends to the sign-in page, keeping the way back.
    let response = browser.get("/area-personale/profilo").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/accesso?next=%2Farea-personale%2Fprofilo");

    browser.cookies.insert("sportello_sid".into(), "stale-session-from-before".into());
    let session = sign_in_with_otp(&app, &mut browser, "maria.rossi@example.it", "347 123 4567").await;
    assert_ne!(session, "stale-session-from-before", "a new session id at sign-in");
    let home = browser.get_text("/area-personale").await;
    assert_translated(&home);
    assert!(home.contains("Benvenuto, Maria Rossi"));
    assert!(home.contains("password e codice SMS (livello di sicurezza 2)"), "{home}");
    let profile = browser.get_text("/area-personale/profilo").await;
    assert!(profile.contains("RSSMRA85T10A562S") && profile.contains("+393471234567"));
}

#[tokio::test]
async fn password_alone_gives_level_one_and_wrong_credentials_say_nothing_more() {
    let app = spawn_app().await;
    let mut browser = register(&app, VALMORA, "luca@example.it", "3331112222").await;
    browser.get_text("/accesso").await;
    for (email, password) in [("luca@example.it", "Sbagliata-123"), ("nessuno@example.it", PASSWORD)] {
        let response =
            browser.post("/accesso/password", &[("email", email), ("password", password), ("mode", "password")]).await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains("Indirizzo e-mail o password non corretti."), "same answer for unknown users");
    }
    let response = browser
        .post("/accesso/password", &[("email", "luca@example.it"), ("password", PASSWORD), ("mode", "password")])
        .await;
    assert_eq!(response.status(), 303);
    let home = browser.get_text("/area-personale").await;
    assert!(home.contains("livello di sicurezza 1"));
}

#[tokio::test]
async fn an_ente_without_weak_passwords_refuses_them() {
    let app = spawn_app().await;
    let mut browser = register(&app, ROCCAMARE, "anna@example.it", "3401112222").await;
    browser.get_text("/accesso").await;
    let response = browser
        .post("/accesso/password", &[("email", "anna@example.it"), ("password", PASSWORD), ("mode", "password")])
        .await;
    assert_eq!(response.status(), 404, "Roccamare enables only password + SMS");
}

#[tokio::test]
async fn sms_codes_expire_work_once_and_allow_five_attempts() {
    let app = spawn_app().await;
    let mut browser = register(&app, VALMORA, "otp@example.it", "3209998888").await;
    browser.get_text("/accesso").await;
    browser.post("/accesso/password", &[("email", "otp@example.it"), ("password", PASSWORD), ("mode", "otp")]).await;
    for left in (1..=4).rev() {
        let response = browser.post("/accesso/codice", &[("code", "000000")]).await;
        assert_eq!(response.status(), 422);
        assert!(response.text().await.unwrap().contains(&format!("Tentativi rimasti: {left}.")));
    }
    let response = browser.post("/accesso/codice", &[("code", "000000")]).await;
    assert!(response.text().await.unwrap().contains("Il codice è scaduto"));
    // Even the right code no longer works.
    let code = six_digits(&last_message(&app, "valmora", "sms_outbox", "+393209998888").await);
    let response = browser.post("/accesso/codice", &[("code", &code)]).await;
    assert_eq!(location(&response), "/accesso", "the sign-in must start again");
    assert!(!browser.cookies.contains_key("sportello_sid"));

    // A fresh code, expired by the clock.
    browser.post("/accesso/password", &[("email", "otp@example.it"), ("password", PASSWORD), ("mode", "otp")]).await;
    let code = six_digits(&last_message(&app, "valmora", "sms_outbox", "+393209998888").await);
    let id = app.tenant_id_of("valmora").await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    sqlx::query("update otp_codes set expires_at = now() - interval '1 second' where consumed_at is null")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let response = browser.post("/accesso/codice", &[("code", &code)]).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("Il codice è scaduto"));

    // A fresh code works once.
    browser.post("/accesso/password", &[("email", "otp@example.it"), ("password", PASSWORD), ("mode", "otp")]).await;
    let code = six_digits(&last_message(&app, "valmora", "sms_outbox", "+393209998888").await);
    let flow = browser.cookies["sportello_flow"].clone();
    assert_eq!(browser.post("/accesso/codice", &[("code", &code)]).await.status(), 303);
    browser.cookies.insert("sportello_flow".into(), flow);
    let response = browser.post("/accesso/codice", &[("code", &code)]).await;
    assert_eq!(location(&response), "/accesso", "a used flow is gone");
}

#[tokio::test]
async fn brute_force_reaches_the_rate_limit() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/accesso").await;
    let mut limited = None;
    for attempt in 0..10 {
        let response = browser
            .post("/accesso/password", &[("email", "vittima@example.it"), ("password", "x"), ("mode", "otp")])
            .await;
        if response.status() == 429 {
            limited = Some((attempt, response));
            break;
        }
    }
    let (attempt, response) = limited.expect("the limit is reached");
    assert_eq!(attempt, 5, "five attempts per account, then refused");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let page = response.text().await.unwrap();
    assert!(page.contains("Troppi tentativi"));
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/accesso").await;
    assert!(browser.cookies.contains_key("sportello_csrf"));
    let fields = [("email", "a@example.it"), ("password", "x"), ("mode", "otp")];
    let response = browser.post_raw("/accesso/password", &fields, true).await;
    assert_eq!(response.status(), 403, "no token");
    assert!(response.text().await.unwrap().contains("Modulo scaduto"));
    let response = browser.post_raw("/accesso/password", &[fields[0], fields[1], ("csrf_token", "forged")], true).await;
    assert_eq!(response.status(), 403, "wrong token");
    // Right token, but the request comes from another site.
    let token = browser.cookies["sportello_csrf"].clone();
    let response = app
        .client
        .post(format!("http://127.0.0.1:{}/accesso/password", app.port))
        .header("host", VALMORA)
        .header("origin", "http://evil.example")
        .header("cookie", format!("sportello_csrf={token}"))
        .form(&[fields[0], fields[1], ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "cross-origin");
    // Another ente's origin is another site too.
    let response = app
        .client
        .post(format!("http://127.0.0.1:{}/accesso/esci", app.port))
        .header("host", VALMORA)
        .header("origin", "http://roccamare.localhost")
        .header("cookie", format!("sportello_csrf={token}"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn a_session_of_one_ente_is_worthless_on_another() {
    let app = spawn_app().await;
    let mut valmora = register(&app, VALMORA, "doppio@example.it", "3480001111").await;
    let session = sign_in_with_otp(&app, &mut valmora, "doppio@example.it", "3480001111").await;
    assert_eq!(valmora.get("/area-personale").await.status(), 200);
    let mut roccamare = Browser::new(&app, ROCCAMARE);
    roccamare.cookies.insert("sportello_sid".into(), session);
    let response = roccamare.get("/area-personale").await;
    assert_eq!(response.status(), 303, "not signed in on Roccamare");
    assert!(location(&response).starts_with("/accesso"));
    // The account does not exist there either.
    roccamare.get_text("/accesso").await;
    let response = roccamare
        .post("/accesso/password", &[("email", "doppio@example.it"), ("password", PASSWORD), ("mode", "otp")])
        .await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn registration_errors_are_shown_in_italian_next_to_each_field_and_nothing_is_saved() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    let response = browser
        .post(
            "/registrazione",
            &[
                ("given_name", ""),
                ("fiscal_code", "RSSMRA85T10A562T"),
                ("email", "non-una-mail"),
                ("mobile", "06 123"),
                ("password", "corta"),
                ("password_confirm", "altra"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_translated(&page);
    for message in [
        "Questo campo è obbligatorio.",
        "Il codice fiscale non è valido",
        "Indica un indirizzo e-mail valido",
        "Indica un numero di cellulare valido",
        "La password deve avere almeno 10 caratteri.",
        "Le due password non coincidono.",
        "informativa sul trattamento dei dati",
    ] {
        assert!(page.contains(message), "missing: {message}");
    }
    assert!(page.contains("id=\"fiscal_code-error\"") && page.contains("aria-invalid=\"true\""));
    assert!(page.contains("value=\"non-una-mail\""), "the answers are kept");
    let users: i64 = sqlx::query_scalar("select count(*) from users").fetch_one(&app.db.admin).await.unwrap_or(0);
    assert_eq!(users, 0);
}

#[tokio::test]
async fn account_management_covers_password_sessions_data_and_deletion() {
    let app = spawn_app().await;
    let email = "gestione@example.it";
    let mobile = "3471110000";
    let mut first = register(&app, VALMORA, email, mobile).await;
    sign_in_with_otp(&app, &mut first, email, mobile).await;
    let mut second = Browser::new(&app, VALMORA);
    sign_in_with_otp(&app, &mut second, email, mobile).await;

    // Two active sessions; the second revokes the first.
    let page = second.get_text("/area-personale/sessioni").await;
    assert_translated(&page);
    assert_eq!(page.matches("data-session=").count(), 2);
    let other = page
        .split("action=\"/area-personale/sessioni/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let response = second.post(&format!("/area-personale/sessioni/{other}/revoca"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(first.get("/area-personale").await.status(), 303, "revoked");
    assert_eq!(second.post("/area-personale/sessioni/000000000000000000000000/revoca", &[]).await.status(), 404);

    // Change the password: wrong current one refused, then accepted.
    let response = second
        .post(
            "/area-personale/password",
            &[("current", "sbagliata"), ("new_password", "Nuova-Password-42"), ("confirm", "Nuova-Password-42")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("La password attuale non è corretta."));
    let response = second
        .post(
            "/area-personale/password",
            &[("current", PASSWORD), ("new_password", "Nuova-Password-42"), ("confirm", "Nuova-Password-42")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Password cambiata"));

    // Download my data.
    let response = second.get("/area-personale/dati").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let data: serde_json::Value = response.json().await.unwrap();
    assert_eq!(data["account"]["email"], email);
    assert!(data["account"].get("password_hash").is_none(), "never the hash");

    // Delete: needs the confirmation word.
    assert_eq!(second.post("/area-personale/elimina", &[("confirm_delete", "si")]).await.status(), 422);
    let response = second.post("/area-personale/elimina", &[("confirm_delete", "ELIMINA")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(second.get("/area-personale").await.status(), 303);
    let mut again = Browser::new(&app, VALMORA);
    again.get_text("/accesso").await;
    let response = again
        .post("/accesso/password", &[("email", email), ("password", "Nuova-Password-42"), ("mode", "password")])
        .await;
    assert_eq!(response.status(), 422, "the account is gone");
}

#[tokio::test]
async fn every_route_declares_its_access_and_every_permission_has_a_policy() {
    let app = spawn_app().await;
    let routes = sportello::auth::authz::route_info(&sportello::startup::tenant_routes(1 << 20));
    let policy = parse_policy(DEFAULT_POLICY, "valmora").unwrap();
    let mut protected = 0;
    for route in &routes {
        if let Access::Permission { obj, act, .. } = route.access {
            protected += 1;
            assert!(
                policy.iter().any(|rule| rule[0] == "p" && rule[3] == obj && rule[4] == act),
                "{}: no policy grants {obj}/{act}",
                route.path
            );
            // Anonymous visitors are sent to sign in, whatever the method.
            let path = route.path.replace("{id}", "0123456789abcdef01234567");
            let mut browser = Browser::new(&app, VALMORA);
            browser.get_text("/accesso").await;
            for method in route.methods {
                let response = if *method == "GET" { browser.get(&path).await } else { browser.post(&path, &[]).await };
                assert_eq!(response.status(), 303, "{method} {path}");
                assert!(location(&response).starts_with("/accesso?next="), "{method} {path}");
            }
        }
    }
    assert!(protected >= 5, "the personal area is protected");
    // Routes are registered only through the route table.
    for file in walk(&crate::helpers::root().join("src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let registers = text.contains(".route(\"")
            && !file.ends_with("auth/authz.rs")
            && !file.ends_with("startup.rs")
            && !file.ends_with("platform/mod.rs");
        assert!(!registers, "{}: register routes with RouteSpec", file.display());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_an_sms_code_without_revealing_accounts() {
    let app = spawn_app().await;
    let (email, mobile) = ("smemorato@example.it", "3337776666");
    let mut old_session = register(&app, VALMORA, email, mobile).await;
    sign_in_with_otp(&app, &mut old_session, email, mobile).await;

    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/accesso/recupero").await;
    // Unknown address: the same answer.
    let response = browser.post("/accesso/recupero", &[("email", "nessuno@example.it")]).await;
    assert_eq!(location(&response), "/accesso/recupero/codice");
    let response = browser
        .post(
            "/accesso/recupero/codice",
            &[("code", "123456"), ("new_password", "Nuova-Password-42"), ("confirm", "Nuova-Password-42")],
        )
        .await;
    assert_eq!(response.status(), 422);

    let response = browser.post("/accesso/recupero", &[("email", email)]).await;
    assert_eq!(location(&response), "/accesso/recupero/codice");
    let code = six_digits(&last_message(&app, "valmora", "sms_outbox", "+393337776666").await);
    let response = browser
        .post("/accesso/recupero/codice", &[("code", &code), ("new_password", "corta"), ("confirm", "corta")])
        .await;
    assert_eq!(response.status(), 422, "a weak password is refused before the code is used");
    let response = browser
        .post(
            "/accesso/recupero/codice",
            &[("code", &code), ("new_password", "Nuova-Password-42"), ("confirm", "Nuova-Password-42")],
        )
        .await;
    assert_eq!(location(&response), "/accesso?reset=1");
    assert_eq!(old_session.get("/area-personale").await.status(), 303, "old sessions end");
    browser.get_text("/accesso").await;
    let response = browser
        .post("/accesso/password", &[("email", email), ("password", "Nuova-Password-42"), ("mode", "password")])
        .await;
    assert_eq!(response.status(), 303);

    // Asking again and again meets the limit.
    let mut limited = false;
    for _ in 0..5 {
        if browser.post("/accesso/recupero", &[("email", email)]).await.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "password reset is rate limited");
}

#[tokio::test]
async fn sessions_and_accounts_of_one_ente_answer_404_on_another() {
    let app = spawn_app().await;
    let mut valmora = register(&app, VALMORA, "a@example.it", "3470000001").await;
    sign_in_with_otp(&app, &mut valmora, "a@example.it", "3470000001").await;
    let mut roccamare = register(&app, ROCCAMARE, "b@example.it", "3470000002").await;
    sign_in_with_otp(&app, &mut roccamare, "b@example.it", "3470000002").await;
    // The id of Roccamare's session, as its own page shows it…
    let page = roccamare.get_text("/area-personale/sessioni").await;
    let id = page.split("data-session=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    // …is nothing on Valmora, even for a signed-in person there.
    assert_eq!(valmora.post(&format!("/area-personale/sessioni/{id}/revoca"), &[]).await.status(), 404);
    assert_eq!(roccamare.get("/area-personale").await.status(), 200, "still signed in");
    // Valmora's data export holds only Valmora's person.
    let data: serde_json::Value = valmora.get("/area-personale/dati").await.json().await.unwrap();
    assert_eq!(data["account"]["email"], "a@example.it");
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn new_contacts_take_effect_only_once_verified() {
    let app = spawn_app().await;
    let mut browser = register(&app, VALMORA, "vecchia@example.it", "3471112222").await;
    sign_in_with_otp(&app, &mut browser, "vecchia@example.it", "3471112222").await;
    let response = browser.post("/area-personale/recapiti", &[("email", "sbagliata"), ("mobile", "3471112222")]).await;
    assert_eq!(response.status(), 422);
    let response =
        browser.post("/area-personale/recapiti", &[("email", "nuova@example.it"), ("mobile", "3471112222")]).await;
    assert_eq!(location(&response), "/area-personale/recapiti/verifica");
    let page = browser.get_text("/area-personale/recapiti/verifica").await;
    assert_translated(&page);
    assert!(page.contains("nuova@example.it") && !page.contains("sms_code"), "only the changed contact is checked");
    // Not yet: the profile still shows the old address.
    assert!(browser.get_text("/area-personale/profilo").await.contains("vecchia@example.it"));
    let code = six_digits(&last_message(&app, "valmora", "mail_outbox", "nuova@example.it").await);
    let response = browser.post("/area-personale/recapiti/verifica", &[("email_code", "000000")]).await;
    assert_eq!(response.status(), 422);
    let response = browser.post("/area-personale/recapiti/verifica", &[("email_code", &code)]).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Recapiti aggiornati") && page.contains("nuova@example.it"));
    // The new address signs in.
    let mut again = Browser::new(&app, VALMORA);
    again.get_text("/accesso").await;
    let response = again
        .post("/accesso/password", &[("email", "nuova@example.it"), ("password", PASSWORD), ("mode", "password")])
        .await;
    assert_eq!(response.status(), 303);
}
