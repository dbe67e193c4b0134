//! The platform operator's console on `admin.localhost`: the first platform
//! admin created by the CLI, enrolled (password and TOTP) through the link it
//! prints, signed in; the table of tenants (counts only, searchable, paged);
//! the console's session opens no ente's page, and an ente's opens no console.

use sportello::auth::totp;

use crate::{
    admin::ADMIN,
    auth::VALMORA,
    backoffice::{offices as provider, staff},
    cases::{citizen, submitted_case},
    helpers::{location, spawn_app, sportello_cli, Browser, TestApp},
};

const CONSOLE: &str = "admin.localhost";
const EMAIL: &str = "ops@sportello.example";
const PASSWORD: &str = "Una password lunga 2026";

/// `sportello platform admin create`, as the platform operator runs it: the link it prints.
fn create_admin(app: &TestApp, email: &str) -> String {
    let stdout = sportello_cli(app, &["platform", "admin", "create", email]);
    let url = url::Url::parse(stdout.trim()).unwrap();
    assert_eq!(url.host_str(), Some(CONSOLE), "{stdout}");
    format!("{}?{}", url.path(), url.query().unwrap())
}

fn code_at(secret: &[u8], steps_ahead: i64) -> String {
    format!("{:06}", totp::code_at(secret, totp::step_of(chrono::Utc::now().timestamp()) + steps_ahead))
}

/// Enrols through `link`; the authenticator's secret.
async fn enrol(app: &TestApp, link: &str) -> Vec<u8> {
    let mut browser = Browser::new(app, CONSOLE);
    let page = browser.get_text(link).await;
    assert!(page.contains("<svg") && page.contains(EMAIL), "{page}");
    let secret: Vec<u8> =
        sqlx::query_scalar("select pending_secret from platform_enrolments where email = $1 and used_at is null")
            .bind(EMAIL)
            .fetch_one(&app.db.admin)
            .await
            .unwrap();
    let token = link.split("t=").nth(1).unwrap();
    let fields = |code: String| {
        vec![
            ("t", token.to_string()),
            ("given_name", "Olga".to_string()),
            ("family_name", "Pini".to_string()),
            ("password", PASSWORD.to_string()),
            ("password_confirm", PASSWORD.to_string()),
            ("code", code),
        ]
    };
    let wrong = fields("000000".into());
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.post("/console/attiva", &wrong).await.status(), 422);
    let good = fields(code_at(&secret, 0));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = browser.post("/console/attiva", &good).await;
    assert_eq!(location(&done), "/console/accesso?esito=attivato");
    assert_eq!(browser.get(link).await.status(), 404, "the link is good once");
    secret
}

async fn sign_in(app: &TestApp, password: &str, code: &str) -> (Browser, reqwest::Response) {
    let mut browser = Browser::new(app, CONSOLE);
    browser.get_text("/console/accesso").await;
    let response = browser.post("/console/accesso", &[("email", EMAIL), ("password", password), ("code", code)]).await;
    (browser, response)
}

/// A platform admin enrolled and signed in (without the CLI): their browser and secret.
pub async fn enrolled_operator(app: &TestApp) -> (Browser, Vec<u8>) {
    let token = sportello::platform::operators::create_enrolment(&app.db.admin, EMAIL, "platform-admin").await.unwrap();
    let secret = enrol(app, &format!("/console/attiva?t={token}")).await;
    let (browser, signed_in) = sign_in(app, PASSWORD, &code_at(&secret, 1)).await;
    assert_eq!(location(&signed_in), "/console");
    (browser, secret)
}

#[tokio::test]
async fn the_first_platform_admin_is_created_by_the_cli_enrols_and_sees_every_tenant() {
    let app = spawn_app().await;
    let _provider = provider(&app).await;
    // Something to count: a citizen's case on Valmora.
    let mut resident = citizen(&app, VALMORA, "maria@example.it", "+393331112233").await;
    submitted_case(&app, &mut resident).await;

    // Before anyone is enrolled, the console's host sends to its sign-in.
    let mut stranger = Browser::new(&app, CONSOLE);
    assert_eq!(location(&stranger.get("/").await), "/console");
    assert_eq!(location(&stranger.get("/console").await), "/console/accesso");

    let link = create_admin(&app, EMAIL);
    assert!(link.starts_with("/console/attiva?t="), "{link}");
    let secret = enrol(&app, &link).await;

    let (_, refused) = sign_in(&app, "una password sbagliata", &code_at(&secret, 1)).await;
    assert_eq!(refused.status(), 401);
    let (mut ops, signed_in) = sign_in(&app, PASSWORD, &code_at(&secret, 1)).await;
    assert_eq!(location(&signed_in), "/console");
    let (_, replayed) = sign_in(&app, PASSWORD, &code_at(&secret, 1)).await;
    assert_eq!(replayed.status(), 401, "a code is good once");

    let table = ops.get_text("/console").await;
    let row = |slug: &str| {
        let at = table.find(&format!("data-slug=\"{slug}\"")).unwrap_or_else(|| panic!("{slug}: {table}"));
        table[at..at + table[at..].find("</tr>").unwrap()].to_string()
    };
    let valmora = row("valmora");
    assert!(valmora.contains("valmora.localhost") && valmora.contains("1 aperte, 1 questo mese"), "{valmora}");
    assert!(valmora.contains("3 personale"), "{valmora}");
    assert!(row("roccamare").contains("0 aperte"), "{table}");
    assert!(table.contains("2 enti · pagina 1 di 1"), "{table}");
    // Counts only: not a name, e-mail or case of any ente's citizens.
    assert!(!table.contains("maria@example.it") && !table.contains("Rossi"), "{table}");
    let found = ops.get_text("/console?q=rocca").await;
    assert!(found.contains("data-slug=\"roccamare\"") && !found.contains("data-slug=\"valmora\""), "{found}");
    let sorted = ops.get_text("/console?ordina=-name").await;
    assert!(sorted.find("data-slug=\"valmora\"").unwrap() < sorted.find("data-slug=\"roccamare\"").unwrap());

    // Operators' accounts are invisible to anything scoped to an ente (RLS).
    let mut scoped = sportello::db::TenantTx::begin(&app.db.app, app.tenant_id_of("valmora").await).await.unwrap();
    for table in ["platform_operators", "platform_sessions", "platform_enrolments"] {
        let rows: i64 =
            sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(scoped.conn()).await.unwrap();
        assert_eq!(rows, 0, "{table} inside an ente's scope");
    }
    scoped.commit().await.unwrap();

    // The console's session is not an ente's, and the other way round.
    let mut on_valmora = Browser::new(&app, VALMORA);
    on_valmora.cookies = ops.cookies.clone();
    let away = on_valmora.get("/backoffice/pratiche").await;
    assert_eq!(away.status(), 303, "no staff session on the ente's host");
    assert!(location(&away).starts_with("/backoffice/accesso"));
    let mario = staff(&app, VALMORA, ADMIN).await;
    let mut mario_on_console = Browser::new(&app, CONSOLE);
    mario_on_console.cookies = mario.cookies.clone();
    assert_eq!(location(&mario_on_console.get("/console").await), "/console/accesso");
    assert_eq!(app.get(VALMORA, "/console").await.status(), 404, "no console on an ente's host");

    // Signing out ends the session.
    assert_eq!(location(&ops.post("/console/esci", &[]).await), "/console/accesso");
    assert_eq!(location(&ops.get("/console").await), "/console/accesso");
    // Five wrong sign-ins lock the account, even with the right code after.
    for _ in 0..5 {
        assert_eq!(sign_in(&app, "sbagliata sbagliata", "000000").await.1.status(), 401);
    }
    let (_, locked) = sign_in(&app, PASSWORD, &code_at(&secret, 2)).await;
    assert_eq!(locked.status(), 401);
    assert!(locked.text().await.unwrap().contains("bloccato"));
}

/// Suspended from the console with a reason its pages show, then resumed; each
/// step in the ente's own audit trail; a support operator may look, not change.
#[tokio::test]
async fn a_platform_admin_suspends_and_resumes_a_tenant_with_a_reason_in_its_audit_trail() {
    let app = spawn_app().await;
    let (mut ops, _) = enrolled_operator(&app).await;
    let page = ops.get_text("/console/enti/roccamare").await;
    assert!(page.contains("data-element=\"suspend-form\""), "{page}");
    let refused = ops.post("/console/enti/roccamare/sospendi", &[("reason", "  ")]).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("Scrivi il motivo della sospensione"));
    assert_eq!(app.get("roccamare.localhost", "/").await.status(), 200, "nothing changed");

    let reason = "Manutenzione straordinaria fino alle 18";
    let done = ops.post("/console/enti/roccamare/sospendi", &[("reason", reason)]).await;
    assert_eq!(location(&done), "/console/enti/roccamare?esito=sospeso");
    let home = app.get("roccamare.localhost", "/").await;
    assert_eq!(home.status(), 503);
    let text = home.text().await.unwrap();
    assert!(text.contains("Servizio sospeso") && text.contains(reason), "{text}");
    assert_eq!(app.get(VALMORA, "/").await.status(), 200, "only that ente");
    assert!(ops.get_text("/console?q=roccamare").await.contains("sospeso"));

    assert_eq!(
        location(&ops.post("/console/enti/roccamare/riattiva", &[]).await),
        "/console/enti/roccamare?esito=riattivato"
    );
    assert_eq!(app.get("roccamare.localhost", "/").await.status(), 200);
    let id = app.tenant_id_of("roccamare").await;
    let mut tx = sportello::db::TenantTx::begin(&app.db.admin, id).await.unwrap();
    let trail: Vec<(String, String)> = sqlx::query_as(
        "select action, actor_label from audit_log where action in ('tenant.suspend', 'tenant.resume') order by seq",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let who = format!("piattaforma: {EMAIL}");
    assert_eq!(trail, [("tenant.suspend".to_string(), who.clone()), ("tenant.resume".to_string(), who)]);
    assert_eq!(ops.get("/console/enti/nessuno").await.status(), 404);

    // Support may look, not change.
    sqlx::query("update platform_operators set role = 'platform-support' where email = $1")
        .bind(EMAIL)
        .execute(&app.db.admin)
        .await
        .unwrap();
    assert!(!ops.get_text("/console/enti/roccamare").await.contains("suspend-form"));
    assert_eq!(ops.post("/console/enti/roccamare/sospendi", &[("reason", reason)]).await.status(), 403);
    assert_eq!(app.get("roccamare.localhost", "/").await.status(), 200);
}

/// The health page: database and storage reachable, the queue by state, and a
/// job that failed for good with its kind, ente and error.
#[tokio::test]
async fn the_health_page_shows_the_queue_and_the_jobs_that_failed() {
    let app = spawn_app().await;
    let (mut ops, _) = enrolled_operator(&app).await;
    let valmora = app.tenant_id_of("valmora").await;
    let task = uuid::Uuid::new_v4();
    let input = serde_json::json!({ "kind": "webhook", "tenant": valmora, "key": "k1", "payload": {} });
    sqlx::query("insert into underway.task (id, task_queue_name, input, state) values ($1, 'sportello', $2, 'failed')")
        .bind(task)
        .bind(&input)
        .execute(&app.db.admin)
        .await
        .unwrap();
    sqlx::query(
        "insert into underway.task_attempt (task_id, task_queue_name, attempt_number, state, error_message)
         values ($1, 'sportello', 1, 'failed', 'webhook to `gestionale.example`: refused destination')",
    )
    .bind(task)
    .execute(&app.db.admin)
    .await
    .unwrap();
    let page = ops.get_text("/console/salute").await;
    let facts = page.split("data-element=\"health-database\">").nth(1).unwrap();
    assert!(facts.starts_with("raggiungibile, risposta in"), "{facts}");
    assert!(page.contains("data-element=\"health-storage\">raggiungibile"), "{page}");
    assert!(page.contains("<tr data-state=\"failed\"><td>sportello</td><td>failed</td><td>1</td>"), "{page}");
    let failed = page.split("data-element=\"failed-job\">").nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(
        failed.contains("webhook") && failed.contains("valmora") && failed.contains("refused destination"),
        "{failed}"
    );
    assert_eq!(location(&Browser::new(&app, CONSOLE).get("/console/salute").await), "/console/accesso");
}
