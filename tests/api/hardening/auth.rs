//! Issue 10, symptoms 3, 4, 5 and the sign-in starts of 8: the client address
//! behind the proxy, what sending codes may cost the ente, who a staff member is,
//! and how many SPID sign-ins one address may start.

use std::process::Command;

use reqwest::header::{COOKIE, HOST, ORIGIN};
use sportello::{config::Settings, db::TenantTx, onboarding, web::render::Renderer};

use crate::{
    auth::{
        last_message,
        oidc::{callback_path, configure, sign_in_at_provider, start_provider_with},
        register, registration, sign_in_with_otp, PASSWORD, VALMORA,
    },
    helpers::{
        assert_translated, copy_dir, location, root, scratch, spawn_app, spawn_app_with, test_settings, Browser,
        TestApp,
    },
};

// ---------------------------------------------------------------------------
// Helpers

/// Settings of a deployment behind our nginx on the same machine.
fn behind_proxy() -> Settings {
    Settings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..test_settings() }
}

/// POSTs a form as `browser` would, through the proxy, with `X-Forwarded-For: xff`.
async fn post_forwarded(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    fields: &[(&str, &str)],
    xff: &str,
) -> reqwest::Response {
    let token = browser.cookies.get("sportello_csrf").cloned().unwrap_or_default();
    let cookies = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &token));
    app.client
        .post(format!("http://127.0.0.1:{}{path}", app.port))
        .header(HOST, &browser.host)
        .header(ORIGIN, format!("http://{}", browser.host))
        .header(COOKIE, cookies)
        .header("x-forwarded-for", xff)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Runs `sql` as the owner, inside Valmora's RLS scope.
async fn valmora_sql(app: &TestApp, sql: &str) {
    let id = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    sqlx::query(sql).execute(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn valmora_count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    let id = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    let n: i64 = sqlx::query_scalar(sql).bind(bind).fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// SMS queued to `number` (E.164).
async fn sms_to(app: &TestApp, number: &str) -> i64 {
    valmora_count(app, "select count(*) from sms_outbox where recipient = $1", number).await
}

async fn all_sms(app: &TestApp) -> i64 {
    valmora_count(app, "select count(*) from sms_outbox where $1 = $1", "").await
}

/// A minute or two goes by for the resend cooldown (the codes look older).
async fn a_minute_later(app: &TestApp) {
    valmora_sql(app, "update otp_codes set created_at = created_at - interval '2 minutes'").await;
}

/// Citizens already registered and verified, made directly in the database
/// (one password hash for all): `n` accounts `cittadino<i>@example.it`, mobile
/// `+39347000<i>`.
async fn verified_citizens(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let hash = sportello::auth::password::hash(PASSWORD.to_string()).await.unwrap();
    let id = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    let mut people = Vec::new();
    for i in 0..n {
        let (email, mobile) = (format!("cittadino{i}@example.it"), format!("+39347000{i:04}"));
        sqlx::query(
            "insert into users (tenant_id, id, given_name, family_name, email, email_verified_at, mobile,
                                mobile_verified_at, password_hash, password_changed_at)
             values ($1, $2, 'Cittadino', $3, $4, now(), $5, now(), $6, now())",
        )
        .bind(id)
        .bind(uuid::Uuid::new_v4())
        .bind(format!("N{i}"))
        .bind(&email)
        .bind(&mobile)
        .bind(&hash)
        .execute(tx.conn())
        .await
        .unwrap();
        people.push((email, mobile));
    }
    tx.commit().await.unwrap();
    people
}

/// Asks for a sign-in code (password + SMS) for `email`.
async fn ask_sign_in_code(browser: &mut Browser, email: &str) -> reqwest::Response {
    browser.post("/accesso/password", &[("email", email), ("password", PASSWORD), ("mode", "otp")]).await
}

/// Applies Valmora's recipe with `lines` added to its `[auth]` table.
async fn apply_valmora_with(app: &TestApp, lines: &str) {
    let dir = scratch().join(format!("auth-{}", uuid::Uuid::new_v4().simple())).join("valmora");
    copy_dir(&root().join("tenants/valmora"), &dir);
    let toml = std::fs::read_to_string(dir.join("tenant.toml")).unwrap();
    let toml = toml.replacen("[auth]\n", &format!("[auth]\n{lines}\n"), 1);
    std::fs::write(dir.join("tenant.toml"), toml).unwrap();
    let settings = test_settings();
    let renderer = Renderer::load(&settings.themes_dir, &settings.locales_dir).unwrap();
    let recipe = onboarding::TenantRecipe::load(&dir, renderer.themes(), &renderer.languages()).unwrap();
    onboarding::apply(&app.db.admin, &recipe, &settings.base_domain).await.unwrap();
    app.state.invalidate_tenant_caches();
}

/// The text of the error shown next to `field` on a form page.
fn field_error(page: &str, field: &str) -> String {
    let marker = format!("id=\"{field}-error\"");
    let at = page.find(&marker).unwrap_or_else(|| panic!("no error next to {field}:\n{page}"));
    let rest = &page[at + marker.len()..];
    rest[rest.find('>').unwrap() + 1..rest.find("</").unwrap()].trim().to_string()
}

// ---------------------------------------------------------------------------
// Symptom 3: the client address behind the reverse proxy

#[tokio::test]
async fn behind_the_proxy_a_client_supplied_forwarded_for_does_not_reset_the_budget() {
    let app = spawn_app_with(behind_proxy()).await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    // The shipped nginx used to append the real address to what the client sent.
    let mut statuses = Vec::new();
    for i in 0..11 {
        let xff = format!("198.51.100.{i}, 203.0.113.7");
        let response = post_forwarded(&app, &browser, "/registrazione", &registration("", ""), &xff).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[..10], [422; 10], "ten registrations an hour from one address");
    assert_eq!(statuses[10], 429, "a made-up X-Forwarded-For is not a new client: {statuses:?}");
    // Another client behind the same proxy still has its own budget.
    let response = post_forwarded(&app, &browser, "/registrazione", &registration("", ""), "203.0.113.8").await;
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn ipv6_clients_of_one_64_share_one_budget() {
    let app = spawn_app_with(behind_proxy()).await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    let mut statuses = Vec::new();
    for i in 1..=11 {
        let xff = format!("2001:db8:1:2::{i:x}");
        let response = post_forwarded(&app, &browser, "/registrazione", &registration("", ""), &xff).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses[10], 429, "every address of a /64 is one client: {statuses:?}");
    let response = post_forwarded(&app, &browser, "/registrazione", &registration("", ""), "2001:db8:1:3::1").await;
    assert_eq!(response.status(), 422, "the next /64 is someone else");
}

#[test]
fn the_shipped_nginx_files_forward_only_what_nginx_saw() {
    for file in ["infra/nginx/sportello.conf", "infra/nginx/crs.conf"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let directives: Vec<&str> =
            text.lines().map(str::trim).filter(|l| l.starts_with("proxy_set_header X-Forwarded")).collect();
        assert!(directives.contains(&"proxy_set_header X-Forwarded-For $remote_addr;"), "{file}: {directives:?}");
        assert!(directives.contains(&"proxy_set_header X-Forwarded-Host $host;"), "{file}");
        assert!(directives.contains(&"proxy_set_header X-Forwarded-Proto $scheme;"), "{file}");
        assert!(!text.contains("$proxy_add_x_forwarded_for;"), "{file} passes on what the client sent");
    }
}

// ---------------------------------------------------------------------------
// Symptom 4: what sending codes may cost the ente

#[tokio::test]
async fn a_code_is_not_sent_again_within_a_minute() {
    let app = spawn_app().await;
    let mut browser = register(&app, VALMORA, "ripetuta@example.it", "3471119999").await;
    sign_in_with_otp(&app, &mut browser, "ripetuta@example.it", "3471119999").await;
    let contacts = [("email", "ripetuta@example.it"), ("mobile", "3475550001")];
    let response = browser.post("/area-personale/recapiti", &contacts).await;
    assert_eq!(location(&response), "/area-personale/recapiti/verifica");
    // The same page submitted again at once: nothing more is sent.
    let response = browser.post("/area-personale/recapiti", &contacts).await;
    assert_eq!(response.status(), 429);
    let page = response.text().await.unwrap();
    assert_translated(&page);
    assert!(field_error(&page, "mobile").contains("attendi un minuto"), "{}", field_error(&page, "mobile"));
    assert_eq!(sms_to(&app, "+393475550001").await, 1);
    // Also a sign-in code: the one sent a moment ago is still good.
    let mut other = Browser::new(&app, VALMORA);
    other.get_text("/accesso").await;
    assert_eq!(ask_sign_in_code(&mut other, "ripetuta@example.it").await.status(), 303);
    let response = ask_sign_in_code(&mut other, "ripetuta@example.it").await;
    assert_eq!(response.status(), 429);
    assert!(response.text().await.unwrap().contains("attendi un minuto"));
    assert_eq!(sms_to(&app, "+393471119999").await, 3, "registration, first sign-in, one more sign-in");
    // A minute later a new code may go.
    a_minute_later(&app).await;
    let response = browser.post("/area-personale/recapiti", &contacts).await;
    assert_eq!(location(&response), "/area-personale/recapiti/verifica");
    assert_eq!(sms_to(&app, "+393475550001").await, 2);
}

#[tokio::test]
async fn one_account_is_sent_at_most_ten_codes_an_hour() {
    let app = spawn_app().await;
    // Registration (e-mail + SMS) and a sign-in: three codes already.
    let mut browser = register(&app, VALMORA, "contatti@example.it", "3471110001").await;
    sign_in_with_otp(&app, &mut browser, "contatti@example.it", "3471110001").await;
    for i in 0..7 {
        a_minute_later(&app).await;
        let mobile = format!("34755500{i:02}");
        let response =
            browser.post("/area-personale/recapiti", &[("email", "contatti@example.it"), ("mobile", &mobile)]).await;
        assert_eq!(location(&response), "/area-personale/recapiti/verifica", "code {}", i + 4);
    }
    a_minute_later(&app).await;
    let response =
        browser.post("/area-personale/recapiti", &[("email", "contatti@example.it"), ("mobile", "3475559999")]).await;
    assert_eq!(response.status(), 429, "the eleventh code of the hour");
    let page = response.text().await.unwrap();
    assert!(field_error(&page, "mobile").contains("troppi codici"), "{page}");
    assert_eq!(sms_to(&app, "+393475559999").await, 0, "nothing sent");
}

#[tokio::test]
async fn one_number_receives_at_most_eight_codes_an_hour_whatever_the_account() {
    // Registrations from different addresses (so that only this limit applies).
    let app = spawn_app_with(behind_proxy()).await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    for i in 0..8 {
        let email = format!("nuova{i}@example.it");
        let xff = format!("203.0.113.{i}");
        let response =
            post_forwarded(&app, &browser, "/registrazione", &registration(&email, "3479990000"), &xff).await;
        assert_eq!(response.status(), 303, "registration {i}");
    }
    let response = post_forwarded(
        &app,
        &browser,
        "/registrazione",
        &registration("nuova8@example.it", "3479990000"),
        "203.0.113.99",
    )
    .await;
    assert_eq!(response.status(), 429);
    let page = response.text().await.unwrap();
    assert_translated(&page);
    assert!(field_error(&page, "mobile").contains("A questo recapito"), "{page}");
    assert_eq!(sms_to(&app, "+393479990000").await, 8);
    // Nothing of the refused registration stays: no account, no e-mail, no code.
    let mails = valmora_count(&app, "select count(*) from mail_outbox where recipient = $1", "nuova8@example.it").await;
    let users = valmora_count(&app, "select count(*) from users where email = $1", "nuova8@example.it").await;
    assert_eq!((mails, users), (0, 0));
}

#[tokio::test]
async fn one_address_causes_at_most_twenty_codes_an_hour() {
    let app = spawn_app().await;
    let people = verified_citizens(&app, 21).await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/accesso").await;
    for (email, _) in &people[..20] {
        assert_eq!(ask_sign_in_code(&mut browser, email).await.status(), 303, "{email}");
    }
    let response = ask_sign_in_code(&mut browser, &people[20].0).await;
    assert_eq!(response.status(), 429, "the twenty-first code from one address within the hour");
    let page = response.text().await.unwrap();
    assert_translated(&page);
    assert!(page.contains("Dalla tua connessione sono stati chiesti troppi codici"), "{page}");
    assert_eq!(all_sms(&app).await, 20);
}

#[tokio::test]
async fn the_entes_daily_sms_budget_stops_sms_and_warns_at_eighty_percent() {
    let app = spawn_app().await;
    apply_valmora_with(&app, "sms_daily_budget = 5").await;
    let people = verified_citizens(&app, 6).await;
    let warned =
        || valmora_count(&app, "select count(*) from sms_daily_usage where warned_at is not null and $1 = $1", "");
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/accesso").await;
    for (i, (email, _)) in people[..5].iter().enumerate() {
        assert_eq!(ask_sign_in_code(&mut browser, email).await.status(), 303, "{email}");
        // 4 of 5 is 80 %: warned then, and once.
        assert_eq!(warned().await, i64::from(i >= 3), "after {} SMS", i + 1);
    }
    let response = ask_sign_in_code(&mut browser, &people[5].0).await;
    assert_eq!(response.status(), 429);
    let page = response.text().await.unwrap();
    assert!(page.contains("il servizio SMS dell&#x27;ente") || page.contains("il servizio SMS dell'ente"), "{page}");
    assert_eq!(all_sms(&app).await, 5, "the budget holds");
    let used = valmora_count(&app, "select sum(sent)::bigint from sms_daily_usage where $1 = $1", "").await;
    assert_eq!(used, 5);
}

#[tokio::test]
async fn sms_go_only_to_the_country_codes_the_ente_allows() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    let response = browser.post("/registrazione", &registration("estero@example.it", "+44 7700 900123")).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert_translated(&page);
    assert!(field_error(&page, "mobile").contains("prefisso italiano (+39)"), "{page}");
    let users = valmora_count(&app, "select count(*) from users where email = $1", "estero@example.it").await;
    let mails = valmora_count(&app, "select count(*) from mail_outbox where recipient = $1", "estero@example.it").await;
    assert_eq!((users, mails, sms_to(&app, "+447700900123").await), (0, 0, 0), "nothing half-written");
    // An ente may allow more prefixes.
    apply_valmora_with(&app, "sms_country_codes = [\"+39\", \"+44\"]").await;
    let response = browser.post("/registrazione", &registration("estero@example.it", "+44 7700 900123")).await;
    assert_eq!(location(&response), "/registrazione/verifica");
    assert_eq!(sms_to(&app, "+447700900123").await, 1);
}

// ---------------------------------------------------------------------------
// Symptom 5: a staff member is the identity their provider asserted

const OIDC_SECRET: &str = "sportello-valmora-secret";

/// Signs `login` in through the ente's provider; returns the back-office home page.
async fn staff_sign_in(browser: &mut Browser, login: &str) -> String {
    let response = browser.get("/accesso/staff").await;
    assert_eq!(response.status(), 303);
    let back = sign_in_at_provider(&location(&response), login).await;
    let response = browser.get(&callback_path(&back)).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    browser.get_text("/backoffice").await
}

/// The roles the back-office home page lists.
fn roles(home: &str) -> Vec<String> {
    let marker = "data-element=\"staff-roles\">";
    let start = home.find(marker).expect("roles on the page") + marker.len();
    home[start..start + home[start..].find('<').unwrap()].split(", ").map(str::to_string).collect()
}

async fn oidc_session_user(app: &TestApp, browser: &Browser) -> uuid::Uuid {
    let hash = sportello::auth::session::token_hash(&browser.cookies["sportello_sid"]);
    let id = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    let user: uuid::Uuid = sqlx::query_scalar("select user_id from sessions where token_hash = $1")
        .bind(hash)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    user
}

#[tokio::test]
async fn a_stranger_who_registered_a_staff_email_does_not_become_that_staff_member() {
    let provider = start_provider_with(None);
    let app = spawn_app().await;
    configure(&app, "valmora", &provider.issuer, OIDC_SECRET).await;
    // Before Mario's first back-office sign-in, someone registers with his
    // e-mail and a made-up name, and never verifies it.
    let mut squatter = Browser::new(&app, VALMORA);
    squatter.get_text("/registrazione").await;
    let mut form = registration("mario.rossi@valmora.example", "3478887777");
    form[0] = ("given_name", "Finto");
    form[1] = ("family_name", "Impostore");
    assert_eq!(squatter.post("/registrazione", &form).await.status(), 303);
    let id = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    let squatter_id: uuid::Uuid =
        sqlx::query_scalar("select id from users where email = 'mario.rossi@valmora.example'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();

    let mut mario = Browser::new(&app, VALMORA);
    let home = staff_sign_in(&mut mario, "mario.rossi@valmora.example").await;
    assert!(home.contains("Mario Rossi") && !home.contains("Impostore"), "{home}");
    assert!(roles(&home).contains(&"admin".to_string()), "{:?}", roles(&home));
    let user = oidc_session_user(&app, &mario).await;
    assert_ne!(user, squatter_id, "the staff session is not the stranger's account");
    let mut tx = TenantTx::begin(&app.db.admin, id).await.unwrap();
    let (given, family, email): (String, String, Option<String>) =
        sqlx::query_as("select given_name, family_name, email from users where id = $1")
            .bind(user)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    let squatter_email: Option<Option<String>> = sqlx::query_scalar("select email from users where id = $1")
        .bind(squatter_id)
        .fetch_optional(tx.conn())
        .await
        .unwrap();
    let bound: (String, String) = sqlx::query_as("select issuer, subject from staff_identities where user_id = $1")
        .bind(user)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((given.as_str(), family.as_str()), ("Mario", "Rossi"), "the provider's name");
    assert_eq!(email.as_deref(), Some("mario.rossi@valmora.example"));
    assert_eq!(squatter_email.flatten(), None, "the unverified account no longer holds the e-mail");
    assert_eq!(bound, (provider.issuer.clone(), "b3c1f0de-0001-4d6a-9c1e-valmora00001".to_string()));
    // The next sign-in finds the same user through the binding.
    let mut again = Browser::new(&app, VALMORA);
    let home = staff_sign_in(&mut again, "mario.rossi@valmora.example").await;
    assert_eq!(oidc_session_user(&app, &again).await, user, "the same identity, the same user");
    assert!(home.contains("Mario Rossi"));
}

#[tokio::test]
async fn changing_a_staff_members_profile_email_does_not_change_their_roles() {
    let provider = start_provider_with(None);
    let app = spawn_app().await;
    configure(&app, "valmora", &provider.issuer, OIDC_SECRET).await;
    let mut giulia = Browser::new(&app, VALMORA);
    let home = staff_sign_in(&mut giulia, "giulia.bianchi@valmora.example").await;
    let before = roles(&home);
    assert!(before.contains(&"operator".to_string()) && !before.contains(&"admin".to_string()), "{before:?}");
    // Giulia sets her profile e-mail to Mario's (an admin) — and proves it, say
    // with access to his mailbox.
    giulia.get_text("/area-personale/profilo").await;
    let response = giulia
        .post("/area-personale/recapiti", &[("email", "mario.rossi@valmora.example"), ("mobile", "3476665555")])
        .await;
    assert_eq!(location(&response), "/area-personale/recapiti/verifica");
    let digits = |text: String| text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_string();
    let email_code = digits(last_message(&app, "valmora", "mail_outbox", "mario.rossi@valmora.example").await);
    let sms_code = digits(last_message(&app, "valmora", "sms_outbox", "+393476665555").await);
    let response =
        giulia.post("/area-personale/recapiti/verifica", &[("email_code", &email_code), ("sms_code", &sms_code)]).await;
    assert_eq!(response.status(), 200);
    assert!(giulia.get_text("/area-personale/profilo").await.contains("mario.rossi@valmora.example"));
    let home = giulia.get_text("/backoffice").await;
    assert_eq!(roles(&home), before, "roles follow the provider's identity, not the profile e-mail");
    // Mario himself still signs in as Mario, with his roles, on a user of his own.
    let mut mario = Browser::new(&app, VALMORA);
    let home = staff_sign_in(&mut mario, "mario.rossi@valmora.example").await;
    assert!(roles(&home).contains(&"admin".to_string()) && home.contains("Mario Rossi"));
    assert_ne!(oidc_session_user(&app, &mario).await, oidc_session_user(&app, &giulia).await);
}

#[tokio::test]
async fn an_unfinished_registration_does_not_keep_its_email_from_a_new_one() {
    let app = spawn_app().await;
    let mut first = Browser::new(&app, VALMORA);
    first.get_text("/registrazione").await;
    assert_eq!(first.post("/registrazione", &registration("contesa@example.it", "3471000001")).await.status(), 303);
    // While it is being verified, nobody else can take the address away…
    let mut second = Browser::new(&app, VALMORA);
    second.get_text("/registrazione").await;
    let response = second.post("/registrazione", &registration("contesa@example.it", "3471000002")).await;
    assert_eq!(response.status(), 422);
    assert!(field_error(&response.text().await.unwrap(), "email").contains("Esiste già un account"));
    // …but once its verification is over it holds nothing (3 registrations per
    // e-mail an hour: this is the third).
    valmora_sql(&app, "update login_flows set expires_at = now() - interval '1 second' where kind = 'register'").await;
    let response = second.post("/registrazione", &registration("contesa@example.it", "3471000002")).await;
    assert_eq!(location(&response), "/registrazione/verifica");
    let holders = valmora_count(&app, "select count(*) from users where email = $1", "contesa@example.it").await;
    assert_eq!(holders, 1);
}

#[tokio::test]
async fn unfinished_registrations_expire_after_a_day_and_free_the_email() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    browser.get_text("/registrazione").await;
    assert_eq!(browser.post("/registrazione", &registration("vecchia@example.it", "3472000001")).await.status(), 303);
    let mut fresh = Browser::new(&app, VALMORA);
    fresh.get_text("/registrazione").await;
    assert_eq!(fresh.post("/registrazione", &registration("recente@example.it", "3472000002")).await.status(), 303);
    register(&app, VALMORA, "completa@example.it", "3472000003").await;
    valmora_sql(
        &app,
        "update users set created_at = now() - interval '25 hours'
         where email in ('vecchia@example.it', 'completa@example.it')",
    )
    .await;
    // What the scheduled prune job does for the ente (runtime role, its scope).
    let id = app.tenant_id_of("valmora").await;
    let pruned = sportello::auth::prune::prune(&app.state, id).await.unwrap();
    assert_eq!(pruned.registrations, 1);
    let left = |email: &'static str| valmora_count(&app, "select count(*) from users where email = $1", email);
    assert_eq!(
        (left("vecchia@example.it").await, left("recente@example.it").await, left("completa@example.it").await),
        (0, 1, 1)
    );
    // The address is free again.
    let mut owner = Browser::new(&app, VALMORA);
    owner.get_text("/registrazione").await;
    let response = owner.post("/registrazione", &registration("vecchia@example.it", "3472000004")).await;
    assert_eq!(location(&response), "/registrazione/verifica");
}

// ---------------------------------------------------------------------------
// Symptom 8 (part): anonymous SPID/CIE sign-in starts

#[tokio::test]
async fn anonymous_spid_sign_in_starts_are_limited_per_address() {
    let tool = root().join(".venv-test/bin/spid_sp_test");
    let dir = scratch().join(format!("spid-starts-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let idp = Command::new(&tool).arg("--idp-metadata").output().expect("spid_sp_test (scripts/setup.sh --test)");
    std::fs::write(dir.join("idp.xml"), &idp.stdout).unwrap();
    let mut settings = behind_proxy();
    settings.spid_idp_metadata = vec![dir.join("idp.xml")];
    let app = spawn_app_with(settings).await;
    let limit = sportello::auth::ratelimit::DEFAULT_SIGN_IN_STARTS as usize;
    let start = |xff: String| {
        let client = app.client.clone();
        let url = format!("http://127.0.0.1:{}/accesso/spid/login?level=2", app.port);
        async move { client.get(url).header(HOST, VALMORA).header("x-forwarded-for", xff).send().await.unwrap() }
    };
    for i in 0..limit {
        assert_eq!(start("203.0.113.5".into()).await.status(), 200, "start {i}");
    }
    let response = start("203.0.113.5".into()).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let page = response.text().await.unwrap();
    assert!(page.contains("Troppi tentativi"), "{page}");
    let pending =
        valmora_count(&app, "select count(*) from login_flows where kind like 'saml:%' and $1 = $1", "").await;
    assert_eq!(pending, limit as i64, "a refused start stores and signs nothing");
    // Someone else is not held up.
    assert_eq!(start("203.0.113.6".into()).await.status(), 200);
}
