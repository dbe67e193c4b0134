//! The back office over HTTP, with citizen and staff sessions (staff sign in
//! through a real OpenID Connect provider, infra/test/oidc/op.mjs): the inbox,
//! the desk, a case's whole life through the workflow, offices and enti that
//! must see nothing, and the REST API with token scopes.

mod audit;
mod jobs;

use serde_json::Value;
use sportello::{backoffice::api, db::TenantTx};
use uuid::Uuid;

use crate::{
    auth::{
        last_message,
        oidc::{callback_path, configure, sign_in_at_provider, start_provider_with, Provider},
        ROCCAMARE, VALMORA,
    },
    cases::{citizen, submitted_case, tenant_of, PDF},
    helpers::{location, root, s3_settings, spawn_app_with, Browser, TestApp},
};

/// The provider knowing Valmora's and Roccamare's staff, and both enti configured.
pub async fn offices(app: &TestApp) -> Provider {
    let provider = start_provider_with(Some(&root().join("infra/test/oidc/backoffice.json")));
    configure(app, "valmora", &provider.issuer, "sportello-valmora-secret").await;
    configure(app, "roccamare", &provider.issuer, "sportello-roccamare-secret").await;
    provider
}

/// A staff member signed in on `host` (through the provider), with the inbox loaded.
pub async fn staff(app: &TestApp, host: &str, email: &str) -> Browser {
    let mut browser = Browser::new(app, host);
    let response = browser.get("/accesso/staff").await;
    assert_eq!(response.status(), 303);
    let back = sign_in_at_provider(&location(&response), email).await;
    let response = browser.get(&callback_path(&back)).await;
    assert_eq!(response.status(), 303, "{email} signs in");
    assert_eq!(browser.get("/backoffice/pratiche").await.status(), 200);
    browser
}

fn desk(case: Uuid) -> String {
    format!("/backoffice/pratiche/{case}")
}

async fn transition(browser: &mut Browser, case: Uuid, key: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.post(&format!("/backoffice/pratiche/{case}/transizioni/{key}"), fields).await
}

/// Valmora's rows, for the checks (forced RLS binds the owner role too).
async fn valmora(app: &TestApp) -> TenantTx {
    TenantTx::begin(&app.db.admin, app.tenant_id_of("valmora").await).await.unwrap()
}

async fn state_of(app: &TestApp, case: Uuid) -> (String, String) {
    sqlx::query_as("select status, state from cases where id = $1")
        .bind(case)
        .fetch_one(valmora(app).await.conn())
        .await
        .unwrap()
}

fn in_a_week() -> String {
    (sportello::backoffice::desk::today() + chrono::Duration::days(7)).format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn a_case_lives_through_the_workflow_between_citizen_and_offices() {
    let app = spawn_app_with(s3_settings().await).await;
    let _provider = offices(&app).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut maria).await;
    let (year, number): (i32, i64) = sqlx::query_as("select registry_year, registry_number from cases where id = $1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();

    // Giulia (UO-TEC, the procedure's office) finds it in her inbox and by registry number.
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    let inbox = giulia.get_text("/backoffice/pratiche").await;
    assert!(inbox.contains(&case.to_string()) && inbox.contains("Presentata"), "{inbox}");
    let found = giulia.get_text(&format!("/backoffice/pratiche?q={year}/{number}")).await;
    assert!(found.contains(&case.to_string()));
    let not_found = giulia.get_text(&format!("/backoffice/pratiche?q={year}/{}", number + 1)).await;
    assert!(!not_found.contains(&case.to_string()) && not_found.contains("Nessuna pratica"));

    // She takes it, and notes something the citizen never sees.
    assert_eq!(giulia.post(&format!("{}/assegna", desk(case)), &[("assegnatario", "me")]).await.status(), 303);
    let mine = giulia.get_text("/backoffice/pratiche?assegnatario=me").await;
    assert!(mine.contains(&case.to_string()) && mine.contains("Giulia Bianchi"));
    assert_eq!(
        giulia
            .post(&format!("{}/note", desk(case)), &[("testo", "Verificare il vincolo paesaggistico")])
            .await
            .status(),
        303
    );
    assert_eq!(transition(&mut giulia, case, "prendi_in_carico", &[]).await.status(), 303);
    assert_eq!(state_of(&app, case).await, ("in_progress".into(), "in_istruttoria".into()));

    // An integration request without its reason is refused, in Italian, and nothing moves.
    let refused =
        transition(&mut giulia, case, "richiedi_integrazione", &[("motivazione", " "), ("scadenza", &in_a_week())])
            .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("la motivazione: è obbligatoria"));
    assert_eq!(state_of(&app, case).await.1, "in_istruttoria");
    let asked = transition(
        &mut giulia,
        case,
        "richiedi_integrazione",
        &[("motivazione", "Allegare la visura catastale."), ("scadenza", &in_a_week())],
    )
    .await;
    assert_eq!(asked.status(), 303);
    assert_eq!(state_of(&app, case).await, ("awaiting_integration".into(), "integrazione".into()));

    // The citizen sees the request, the suspended clock, and not the note.
    let page = maria.get_text(&format!("/area-personale/pratiche/{case}")).await;
    assert!(page.contains("Allegare la visura catastale") && page.contains("In attesa di integrazione"));
    assert!(page.contains(r#"data-clock-state="suspended""#), "{page}");
    assert!(!page.contains("vincolo paesaggistico") && !page.contains("Assegnata a"));
    let mail = last_message(&app, "valmora", "mail_outbox", "maria@example.it").await;
    assert!(mail.contains("Allegare la visura") && mail.contains("sospeso"), "{mail}");
    let request: Uuid = sqlx::query_scalar("select id from integration_requests where case_id = $1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    let form = reqwest::multipart::Form::new().text("risposta", "Ecco la visura.").part(
        "documenti",
        reqwest::multipart::Part::bytes(PDF.to_vec()).file_name("visura.pdf").mime_str("application/pdf").unwrap(),
    );
    let answered = maria.post_multipart(&format!("/area-personale/pratiche/{case}/integrazioni/{request}"), form).await;
    assert_eq!(answered.status(), 303);
    assert_eq!(state_of(&app, case).await, ("in_progress".into(), "in_istruttoria".into()), "back to the office");

    // The citizen writes; the inbox flags it until the desk is opened.
    let wrote =
        maria.post(&format!("/area-personale/pratiche/{case}/messaggi"), &[("body", "Ho allegato la visura.")]).await;
    assert_eq!(wrote.status(), 303);
    assert!(giulia.get_text("/backoffice/pratiche").await.contains("1 messaggio non letto"));
    assert!(giulia.get_text(&desk(case)).await.contains("Ho allegato la visura."));
    assert!(!giulia.get_text("/backoffice/pratiche").await.contains("messaggio non letto"));

    // An internal opinion from the registry office (UO-ANAG): Anna sees the case
    // in her inbox and answers, but cannot work it.
    let asked = giulia
        .post(&format!("{}/pareri", desk(case)), &[("ufficio", "UO-ANAG"), ("testo", "Risulta residente?")])
        .await;
    assert_eq!(asked.status(), 303);
    let mut anna = staff(&app, VALMORA, "anna.neri@valmora.example").await;
    let inbox = anna.get_text("/backoffice/pratiche").await;
    assert!(inbox.contains(&case.to_string()) && inbox.contains("parere richiesto"));
    let task: Uuid = sqlx::query_scalar("select id from case_tasks where case_id = $1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!(anna.get(&desk(case)).await.status(), 200);
    assert_eq!(transition(&mut anna, case, "accogli", &[]).await.status(), 403, "seeing is not working");
    assert_eq!(anna.post(&format!("{}/pareri/{task}", desk(case)), &[("testo", "Sì, dal 2019.")]).await.status(), 303);
    assert!(giulia.get_text(&desk(case)).await.contains("Sì, dal 2019."));
    assert!(!maria.get_text(&format!("/area-personale/pratiche/{case}")).await.contains("Risulta residente"));

    // A rejection needs reasons; the acceptance issues the registered act.
    assert_eq!(transition(&mut giulia, case, "respingi", &[("motivazione", "")]).await.status(), 422);
    assert_eq!(
        transition(&mut giulia, case, "accogli", &[("motivazione", "Documentazione completa.")]).await.status(),
        303
    );
    assert_eq!(state_of(&app, case).await, ("accepted".into(), "accolta".into()));
    let act: (String, Option<i64>, Uuid) =
        sqlx::query_as("select name, registry_number, id from case_documents where case_id = $1 and origin = 'office'")
            .bind(case)
            .fetch_one(valmora(&app).await.conn())
            .await
            .unwrap();
    assert!(act.0.starts_with("provvedimento-di-accoglimento") && act.1.is_some(), "{act:?}");
    let outgoing: String =
        sqlx::query_scalar("select direction from registry_entries where number = $1 and case_id = $2")
            .bind(act.1.unwrap())
            .bind(case)
            .fetch_one(valmora(&app).await.conn())
            .await
            .unwrap();
    assert_eq!(outgoing, "outgoing");
    let page = maria.get_text(&format!("/area-personale/pratiche/{case}")).await;
    assert!(page.contains("Accolta") && page.contains(r#"data-clock-state="stopped""#));
    let pdf = maria.get(&format!("/area-personale/pratiche/{case}/documenti/{}", act.2)).await;
    assert_eq!(pdf.status(), 200);
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let mail = last_message(&app, "valmora", "mail_outbox", "maria@example.it").await;
    assert!(mail.contains("Accolta") && mail.contains("Documentazione completa."), "{mail}");

    // A final status offers nothing more to the operator; only an admin reopens.
    assert_eq!(transition(&mut giulia, case, "accogli", &[]).await.status(), 409);
    assert_eq!(transition(&mut giulia, case, "riapri", &[("motivazione", "Errore")]).await.status(), 403);
    let mut mario = staff(&app, VALMORA, "mario.rossi@valmora.example").await;
    assert_eq!(transition(&mut mario, case, "riapri", &[("motivazione", "Riesame in autotutela")]).await.status(), 303);
    assert_eq!(state_of(&app, case).await.1, "in_istruttoria");
    let timeline = giulia.get_text(&desk(case)).await;
    for kind in [
        "submitted",
        "status_changed",
        "integration_requested",
        "integration_answered",
        "document_issued",
        "internal_opinion",
    ] {
        assert!(timeline.contains(&format!(r#"data-event="{kind}""#)), "{kind}");
    }
}

#[tokio::test]
async fn many_cases_are_assigned_and_moved_at_once() {
    let app = spawn_app_with(s3_settings().await).await;
    let _provider = offices(&app).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let mut cases = Vec::new();
    for _ in 0..3 {
        cases.push(submitted_case(&app, &mut maria).await);
    }
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    // The third was taken in charge meanwhile: the bulk transition skips it.
    assert_eq!(transition(&mut giulia, cases[2], "prendi_in_carico", &[]).await.status(), 303);
    let ids: Vec<String> = cases.iter().map(Uuid::to_string).collect();
    let mut fields = vec![("azione", "transizione"), ("transizione", "prendi_in_carico")];
    fields.extend(ids.iter().map(|id| ("pratica", id.as_str())));
    let response = giulia.post("/backoffice/pratiche/azioni", &fields).await;
    assert_eq!(location(&response), "/backoffice/pratiche?fatte=2&saltate=1");
    let mut fields = vec![("azione", "assegna"), ("assegnatario", "me")];
    fields.extend(ids.iter().map(|id| ("pratica", id.as_str())));
    let response = giulia.post("/backoffice/pratiche/azioni", &fields).await;
    assert_eq!(location(&response), "/backoffice/pratiche?fatte=3&saltate=0");
    let assigned: i64 =
        sqlx::query_scalar("select count(*) from cases where assignee_id is not null and state = 'in_istruttoria'")
            .fetch_one(valmora(&app).await.conn())
            .await
            .unwrap();
    assert_eq!(assigned, 3);
    // Anna's office is not theirs: everything skipped, nothing changed.
    let mut anna = staff(&app, VALMORA, "anna.neri@valmora.example").await;
    let mut fields = vec![("azione", "assegna"), ("assegnatario", "")];
    fields.extend(ids.iter().map(|id| ("pratica", id.as_str())));
    assert_eq!(
        location(&anna.post("/backoffice/pratiche/azioni", &fields).await),
        "/backoffice/pratiche?fatte=0&saltate=3"
    );
}

#[tokio::test]
async fn another_office_or_another_ente_sees_nothing() {
    let app = spawn_app_with(s3_settings().await).await;
    let _provider = offices(&app).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut maria).await;
    let document: Uuid = sqlx::query_scalar("select id from case_documents where case_id = $1 limit 1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    assert_eq!(giulia.post(&format!("{}/note", desk(case)), &[("testo", "Nota riservata")]).await.status(), 303);

    // UO-ANAG's operator (same ente, other office, no task) and Roccamare's admin.
    let mut anna = staff(&app, VALMORA, "anna.neri@valmora.example").await;
    let mut paolo = staff(&app, ROCCAMARE, "paolo.gialli@roccamare.example").await;
    for browser in [&mut anna, &mut paolo] {
        assert!(!browser.get_text("/backoffice/pratiche?stato=tutte").await.contains(&case.to_string()));
        assert_eq!(browser.get(&desk(case)).await.status(), 404);
        assert_eq!(browser.get(&format!("{}/documenti/{document}", desk(case))).await.status(), 404);
        assert_eq!(transition(browser, case, "prendi_in_carico", &[]).await.status(), 404);
        assert_eq!(browser.post(&format!("{}/note", desk(case)), &[("testo", "x")]).await.status(), 404);
        assert_eq!(browser.post(&format!("{}/messaggi", desk(case)), &[("testo", "x")]).await.status(), 404);
        assert_eq!(browser.post(&format!("{}/assegna", desk(case)), &[("assegnatario", "me")]).await.status(), 404);
        assert_eq!(
            browser.post(&format!("{}/pareri", desk(case)), &[("ufficio", "UO-ANAG"), ("testo", "x")]).await.status(),
            404
        );
    }
    assert_eq!(state_of(&app, case).await.1, "presentata", "nothing moved");
    // Row-level security below it all: Roccamare's scope holds none of Valmora's back-office rows.
    let roccamare = tenant_of(&app, ROCCAMARE).await;
    let mut tx = TenantTx::begin(&app.db.app, roccamare.id).await.unwrap();
    for table in ["cases", "case_notes", "case_tasks", "api_tokens"] {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(tx.conn()).await.unwrap();
        assert_eq!(n, 0, "{table}");
    }
    tx.commit().await.unwrap();
    // A citizen, even signed in, is no operator.
    assert_eq!(maria.get(&desk(case)).await.status(), 403);
}

async fn api(app: &TestApp, host: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{}{path}", app.port);
    let mut request = app.client.request(method.parse().unwrap(), url).header("host", host).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_works_cases_within_its_token_scopes() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut maria).await;
    let valmora = tenant_of(&app, VALMORA).await;
    let roccamare = tenant_of(&app, ROCCAMARE).await;
    let scopes = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let offices = vec!["UO-TEC".to_string()];
    let reader =
        api::create_token(&app.db.admin, valmora.id, "lettura", "operator", &offices, &scopes(&["cases:read"]))
            .await
            .unwrap();
    let worker = api::create_token(
        &app.db.admin,
        valmora.id,
        "gestionale",
        "operator",
        &offices,
        &scopes(&["cases:read", "cases:transition", "cases:message", "cases:document"]),
    )
    .await
    .unwrap();
    let other_office = api::create_token(
        &app.db.admin,
        valmora.id,
        "anagrafe",
        "operator",
        &["UO-ANAG".into()],
        &scopes(&["cases:read"]),
    )
    .await
    .unwrap();
    let other_ente = api::create_token(
        &app.db.admin,
        roccamare.id,
        "rocca",
        "admin",
        &[],
        &scopes(&["cases:read", "cases:transition"]),
    )
    .await
    .unwrap();
    assert!(api::create_token(&app.db.admin, valmora.id, "x", "operator", &[], &scopes(&["cases:delete"]))
        .await
        .is_err());

    let (status, list) = api(&app, VALMORA, "GET", "/api/v1/pratiche", &reader, None).await;
    assert_eq!(status, 200);
    assert_eq!(list["cases"][0]["id"], case.to_string());
    let (status, detail) = api(&app, VALMORA, "GET", &format!("/api/v1/pratiche/{case}"), &reader, None).await;
    assert_eq!(status, 200);
    assert_eq!(detail["status"]["key"], "presentata");
    assert_eq!(detail["clock"]["state"], "running");
    assert_eq!(detail["clock"]["time_limit_days"], 30);
    let offered: Vec<&str> =
        detail["transitions"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert!(offered.contains(&"prendi_in_carico") && !offered.contains(&"riapri"), "{offered:?}");

    // Scopes: reading is not working.
    let path = format!("/api/v1/pratiche/{case}/transizioni/prendi_in_carico");
    let (status, error) = api(&app, VALMORA, "POST", &path, &reader, Some(serde_json::json!({}))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = api(&app, VALMORA, "POST", &path, &worker, Some(serde_json::json!({}))).await;
    assert_eq!(status, 204);
    assert_eq!(state_of(&app, case).await.1, "in_istruttoria");
    let (status, error) = api(&app, VALMORA, "POST", &path, &worker, Some(serde_json::json!({}))).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("conflict")));
    let reject = format!("/api/v1/pratiche/{case}/transizioni/respingi");
    let (status, error) = api(&app, VALMORA, "POST", &reject, &worker, Some(serde_json::json!({ "reason": "" }))).await;
    assert_eq!(status, 422);
    assert!(error["error"]["fields"]["motivazione"].as_str().unwrap().contains("obbligatoria"));
    let (status, _) = api(
        &app,
        VALMORA,
        "POST",
        &format!("/api/v1/pratiche/{case}/messaggi"),
        &worker,
        Some(serde_json::json!({ "text": "Pratica in lavorazione." })),
    )
    .await;
    assert_eq!(status, 201);
    assert!(maria.get_text(&format!("/area-personale/pratiche/{case}")).await.contains("Pratica in lavorazione."));

    // Documents: the body is the file, judged on its bytes.
    let upload = |name: &str| format!("http://127.0.0.1:{}/api/v1/pratiche/{case}/documenti?nome={name}", app.port);
    let response = app
        .client
        .post(upload("parere.pdf"))
        .header("host", VALMORA)
        .bearer_auth(&worker)
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let stored: Value = response.json().await.unwrap();
    let response = app
        .client
        .post(upload("finto.pdf"))
        .header("host", VALMORA)
        .bearer_auth(&worker)
        .body(b"MZ\x90\x00 not a pdf".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let (status, _) = api(
        &app,
        VALMORA,
        "GET",
        &format!("/api/v1/pratiche/{case}/documenti/{}", stored["id"].as_str().unwrap()),
        &reader,
        None,
    )
    .await;
    assert_eq!(status, 200);

    // No token, a revoked one, another office's, another ente's.
    let response = app
        .client
        .get(format!("http://127.0.0.1:{}/api/v1/pratiche", app.port))
        .header("host", VALMORA)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(api(&app, VALMORA, "GET", &format!("/api/v1/pratiche/{case}"), &other_office, None).await.0, 404);
    assert_eq!(
        api(&app, VALMORA, "GET", "/api/v1/pratiche", &other_ente, None).await.0,
        401,
        "a token is its ente's only"
    );
    assert_eq!(api(&app, ROCCAMARE, "GET", &format!("/api/v1/pratiche/{case}"), &other_ente, None).await.0, 404);
    let (status, list) = api(&app, ROCCAMARE, "GET", "/api/v1/pratiche?stato=tutte", &other_ente, None).await;
    assert_eq!((status, list["cases"].as_array().map(Vec::len)), (200, Some(0)));
    assert!(api::revoke_token(&app.db.admin, valmora.id, "lettura").await.unwrap());
    assert_eq!(api(&app, VALMORA, "GET", "/api/v1/pratiche", &reader, None).await.0, 401);

    // The description covers every API route.
    let (status, doc) = api(&app, VALMORA, "GET", "/api/v1/openapi.json", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for route in api::routes() {
        if route.path != "/api/v1/openapi.json" {
            assert!(doc["paths"][route.path].is_object(), "{} is described", route.path);
        }
    }
}

/// A workflow written in a procedure file (Valmora's passo carrabile): entering
/// a status gives another office a task and tells the citizen; a role the
/// transition does not list cannot run it; the act comes from the file's template.
#[tokio::test]
async fn a_procedure_files_workflow_drives_its_cases() {
    let app = spawn_app_with(s3_settings().await).await;
    let _provider = offices(&app).await;
    // The file's workflow on the generic procedure (its form is simpler to fill),
    // with the inspection asked of the registry office so that Anna gets it.
    let mut owner = valmora(&app).await;
    let workflow: sqlx::types::Json<sportello::procedure::workflow::Workflow> =
        sqlx::query_scalar("select workflow from procedures where slug = 'passo-carrabile'")
            .fetch_one(owner.conn())
            .await
            .unwrap();
    let mut workflow = workflow.0;
    assert_eq!(workflow.clock_on_integration, sportello::procedure::clock::ClockEffect::Interrupt);
    let text = serde_json::to_string(&workflow).unwrap().replace(r#""office":"UO-TEC""#, r#""office":"UO-ANAG""#);
    workflow = serde_json::from_str(&text).unwrap();
    sqlx::query("update procedures set workflow = $1 where slug = $2")
        .bind(sqlx::types::Json(&workflow))
        .bind(crate::cases::GENERIC)
        .execute(owner.conn())
        .await
        .unwrap();
    owner.commit().await.unwrap();

    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let case = submitted_case(&app, &mut maria).await;
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    let page = giulia.get_text(&desk(case)).await;
    assert!(page.contains("Avvia l&#x27;istruttoria") || page.contains("Avvia l'istruttoria"), "{page}");
    assert!(!page.contains("prendi_in_carico"), "the standard workflow is not this case's");
    assert_eq!(transition(&mut giulia, case, "avvia_istruttoria", &[]).await.status(), 303);
    let task: (String, String) = sqlx::query_as("select office_code, kind from case_tasks where case_id = $1")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert_eq!(task, ("UO-ANAG".to_string(), "task".to_string()));
    let mut anna = staff(&app, VALMORA, "anna.neri@valmora.example").await;
    assert!(
        anna.get_text("/backoffice/pratiche").await.contains(&case.to_string()),
        "the task brings it to her office"
    );

    // `nega` is for admins only; Mario is one.
    assert_eq!(
        transition(&mut giulia, case, "nega", &[("motivazione", "Visibilità insufficiente")]).await.status(),
        403
    );
    assert_eq!(
        transition(&mut giulia, case, "rilascia", &[("motivazione", "Cartello a 1 m dal filo strada")]).await.status(),
        303
    );
    let act: String = sqlx::query_scalar("select name from case_documents where case_id = $1 and origin = 'office'")
        .bind(case)
        .fetch_one(valmora(&app).await.conn())
        .await
        .unwrap();
    assert!(act.starts_with("autorizzazione-passo-carrabile"), "{act}");
    let page = maria.get_text(&format!("/area-personale/pratiche/{case}")).await;
    assert!(page.contains("Autorizzazione rilasciata") && page.contains("Comando di Polizia Locale"), "{page}");
}

/// Makes a queued job of `kind` for `case` due now (the time it waits for
/// passes in the queue's own terms: `created_at + delay <= now()`).
async fn make_due(app: &TestApp, kind: &str, case: Uuid) -> usize {
    sqlx::query(
        "update underway.task set delay = interval '0'
         where input->>'kind' = $1 and input->'payload'->>'case_id' = $2 and state = 'pending'",
    )
    .bind(kind)
    .bind(case.to_string())
    .execute(&app.db.admin)
    .await
    .unwrap()
    .rows_affected() as usize
}

async fn wait_for(app: &TestApp, what: &str, sql: &str, case: Uuid) {
    for _ in 0..300 {
        let done: bool = sqlx::query_scalar(sql).bind(case).fetch_one(valmora(app).await.conn()).await.unwrap();
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 30 s");
}

/// Valmora's SCIA: silence for 30 days consolidates it (a timer job runs the
/// transition as the system); a check left open reminds the office; jobs armed
/// for a stay the case has left do nothing; all of it in the audit trail.
#[tokio::test]
async fn timers_run_from_the_job_queue_and_stale_ones_do_nothing() {
    let app = spawn_app_with(s3_settings().await).await;
    let _provider = offices(&app).await;
    let mut owner = valmora(&app).await;
    sqlx::query("update procedures set workflow = (select workflow from procedures where slug = 'scia-edilizia') where slug = $1")
        .bind(crate::cases::GENERIC)
        .execute(owner.conn())
        .await
        .unwrap();
    owner.commit().await.unwrap();
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let silent = submitted_case(&app, &mut maria).await;
    let checked = submitted_case(&app, &mut maria).await;

    // Armed 30 days out with the submission.
    let delay: f64 = sqlx::query_scalar(
        "select extract(epoch from created_at + delay - now())::float8 from underway.task
         where input->>'kind' = 'workflow.timer' and input->'payload'->>'case_id' = $1",
    )
    .bind(silent.to_string())
    .fetch_one(&app.db.admin)
    .await
    .unwrap();
    assert!((delay - 30.0 * 86_400.0).abs() < 600.0, "due in 30 days, not {delay} s");

    // The office starts checking the other one: its silence timer is now stale.
    let mut giulia = staff(&app, VALMORA, "giulia.bianchi@valmora.example").await;
    assert_eq!(transition(&mut giulia, checked, "avvia_controllo", &[]).await.status(), 303);

    // Thirty days pass.
    assert_eq!(make_due(&app, "workflow.timer", silent).await, 1);
    assert_eq!(make_due(&app, "workflow.timer", checked).await, 2, "the stale silence timer and the reminder");
    wait_for(&app, "silence-as-consent", "select state = 'efficace' from cases where id = $1", silent).await;
    wait_for(
        &app,
        "the reminder",
        "select exists (select 1 from case_events where case_id = $1 and kind = 'internal_reminder')",
        checked,
    )
    .await;
    // Let the stale timer's run finish too, then check it changed nothing.
    wait_for(
        &app,
        "every timer job",
        "select not exists (select 1 from underway.task where input->'payload'->>'case_id' = $1::text
             and input->>'kind' = 'workflow.timer' and state in ('pending', 'in_progress'))",
        checked,
    )
    .await;
    assert_eq!(state_of(&app, checked).await.1, "controllo", "a timer of a status the case left does nothing");
    let mail = last_message(&app, "valmora", "mail_outbox", "edilizia@comune.valmora.bg.it").await;
    assert!(mail.contains("aperto da 20 giorni"), "{mail}");
    let page = maria.get_text(&format!("/area-personale/pratiche/{silent}")).await;
    assert!(page.contains("Efficace") && page.contains(r#"data-clock-state="stopped""#));

    // The overdue alert of a concluded case is stale as well.
    assert_eq!(make_due(&app, "workflow.overdue", silent).await, 1);
    wait_for(
        &app,
        "the overdue job",
        "select not exists (select 1 from underway.task where input->'payload'->>'case_id' = $1::text
             and input->>'kind' = 'workflow.overdue' and state in ('pending', 'in_progress'))",
        silent,
    )
    .await;
    let alerted: bool = sqlx::query_scalar(
        "select exists (select 1 from case_events where case_id = $1 and kind = 'internal_overdue')",
    )
    .bind(silent)
    .fetch_one(valmora(&app).await.conn())
    .await
    .unwrap();
    assert!(!alerted);

    // Who did what, in the ente's chain: the system consolidated, Giulia checked.
    let mut tx = valmora(&app).await;
    let entries = sportello::audit::entries(&mut tx, "case", &silent.to_string()).await.unwrap();
    let consolidated = entries.iter().find(|e| e.action == "case.transition").expect("audited");
    assert_eq!(consolidated.actor.label, "Sistema");
    assert_eq!(consolidated.after.as_ref().unwrap()["state"], "efficace");
    let entries = sportello::audit::entries(&mut tx, "case", &checked.to_string()).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "case.transition" && e.actor.label == "Giulia Bianchi"));
    assert!(entries.iter().any(|e| e.action == "case.reminder"));
    drop(tx);
    let verification = sportello::audit::verify(&app.db.admin, app.tenant_id_of("valmora").await).await.unwrap();
    assert!(verification.is_intact(), "{}", verification.line());
}
