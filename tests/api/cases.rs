//! The citizen's counter over HTTP: start a case, fill the form with files,
//! confirm, submit (registry number, receipt, e-mail), follow it, answer the
//! office's requests, write messages, ask for assistance, act for others; 500
//! concurrent submissions; cross-ente 404s.

use reqwest::multipart::{Form, Part};
use sportello::{
    db::TenantTx,
    procedure::{
        engine::{self, Operator, TransitionInput},
        integrations, messages, store as cases_db,
    },
};
use uuid::Uuid;

use crate::{
    auth::{last_message, register, sign_in_with_otp, ROCCAMARE, VALMORA},
    helpers::{assert_translated, location, s3_settings, spawn_app_with, Browser, S3Server, TestApp},
};

/// A procedure with no form of its own: the generic one (applicant, subject, attachments).
pub const GENERIC: &str = "certificato-destinazione-urbanistica";
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

pub async fn citizen(app: &TestApp, host: &str, email: &str, mobile: &str) -> Browser {
    let mut browser = register(app, host, email, mobile).await;
    sign_in_with_otp(app, &mut browser, email, mobile).await;
    browser
}

fn case_id_of(location: &str) -> Uuid {
    let rest = location.strip_prefix("/area-personale/pratiche/").expect("a case URL");
    Uuid::parse_str(&rest[..36]).unwrap()
}

/// Starts a draft of `slug` for oneself; returns its id.
pub async fn start(browser: &mut Browser, slug: &str) -> Uuid {
    let page = browser.get_text(&format!("/servizi/{slug}/richiesta")).await;
    assert_translated(&page);
    let response = browser.post(&format!("/servizi/{slug}/richiesta"), &[("acting_for", "self")]).await;
    assert_eq!(response.status(), 303);
    let to = location(&response);
    assert!(to.ends_with("/passo/1"), "{to}");
    case_id_of(&to)
}

fn text_form(fields: &[(&str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |form, (k, v)| form.text(k.to_string(), v.to_string()))
}

/// Fills the generic form: step 1 as prefilled, step 2 with a subject and files.
async fn fill_generic(browser: &mut Browser, id: Uuid, files: Vec<(&str, Vec<u8>)>) -> reqwest::Response {
    let step1 = browser.get_text(&format!("/area-personale/pratiche/{id}/passo/1")).await;
    assert!(step1.contains("RSSMRA85T10A562S"), "prefilled from the identity");
    let response = browser
        .post_multipart(
            &format!("/area-personale/pratiche/{id}/passo/1"),
            text_form(&[
                ("given_name", "Maria"),
                ("family_name", "Rossi"),
                ("fiscal_code", "RSSMRA85T10A562S"),
                ("email", "maria@example.it"),
                ("phone", "347 123 4567"),
            ]),
        )
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), format!("/area-personale/pratiche/{id}/passo/2"));
    let mut form = text_form(&[("subject", "Chiedo il certificato per il mappale 123 del foglio 4.")]);
    for (name, bytes) in files {
        form = form.part("attachments", Part::bytes(bytes).file_name(name.to_string()));
    }
    browser.post_multipart(&format!("/area-personale/pratiche/{id}/passo/2"), form).await
}

/// A submitted case of the generic procedure, with one attachment.
pub async fn submitted_case(app: &TestApp, browser: &mut Browser) -> Uuid {
    let _ = app;
    let id = start(browser, GENERIC).await;
    let response = fill_generic(browser, id, vec![("planimetria.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(browser.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await.status(), 303);
    id
}

/// The office asks for more on `case`: the workflow's integration request, run
/// by the system (the back-office tests drive the same over HTTP as staff).
pub async fn request_integration(app: &TestApp, case: Uuid) -> Uuid {
    let tenant = tenant_of(app, VALMORA).await;
    let mut tx = TenantTx::begin(&app.db.app, tenant.id).await.unwrap();
    let id = office_requests(app, &tenant, &mut tx, case, "Manca la visura.").await;
    tx.commit().await.unwrap();
    id
}

/// Runs the standard workflow's `richiedi_integrazione` in `tx`; the new request's id.
pub async fn office_requests(
    app: &TestApp,
    tenant: &sportello::tenancy::Tenant,
    tx: &mut TenantTx,
    case: Uuid,
    reason: &str,
) -> Uuid {
    let locked = cases_db::case_by_id(tx, case, true).await.unwrap().unwrap();
    let input = TransitionInput {
        reason: reason.into(),
        due_date: Some(sportello::backoffice::desk::today() + chrono::Duration::days(30)),
    };
    engine::run_transition(app.state.env(), tenant, tx, &locked, "richiedi_integrazione", &Operator::system(), &input)
        .await
        .unwrap();
    integrations::of_case(tx, case).await.unwrap().last().unwrap().id
}

#[tokio::test]
async fn a_citizen_starts_fills_submits_and_follows_a_case() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let procedure = maria.get_text(&format!("/servizi/{GENERIC}")).await;
    assert!(procedure.contains(&format!("/servizi/{GENERIC}/richiesta")), "the service page leads to the form");

    let id = start(&mut maria, GENERIC).await;
    // Steps beyond the one reached cannot be skipped to.
    assert_eq!(maria.get(&format!("/area-personale/pratiche/{id}/passo/2")).await.status(), 404);
    let response = fill_generic(&mut maria, id, vec![("planimetria.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    assert_eq!(location(&response), format!("/area-personale/pratiche/{id}/riepilogo"));

    // The draft is on the home page, and the summary shows every answer.
    let home = maria.get_text("/area-personale").await;
    assert!(home.contains("Continua la compilazione"));
    let summary = maria.get_text(&format!("/area-personale/pratiche/{id}/riepilogo")).await;
    assert_translated(&summary);
    assert!(
        summary.contains("mappale 123")
            && summary.contains("planimetria.pdf")
            && summary.contains("Invia la richiesta")
    );

    let response = maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let page = maria.get_text(&location(&response)).await;
    assert_translated(&page);
    assert!(page.contains("Richiesta inviata"), "{page}");
    assert!(page.contains("-2026-0000001") || page.contains("-0000001"), "the first registry number of the year");
    // The workflow's first status, and the legal clock running from today.
    assert!(page.contains("Presentata") && page.contains("Termine del procedimento"), "{page}");
    assert!(page.contains(r#"data-clock-state="running""#) && page.contains("giorni trascorsi: 0 su 30"), "{page}");

    // Documents: the upload, the application, the receipt — each with its hash, all registered.
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let documents = cases_db::documents(&mut tx, id).await.unwrap();
    let case = cases_db::case_by_id(&mut tx, id, false).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(case.status, "submitted");
    assert_eq!(case.registry_number, Some(1));
    let origins: Vec<&str> = documents.iter().map(|d| d.origin.as_str()).collect();
    assert_eq!(origins.iter().filter(|o| **o == "upload").count(), 1);
    assert!(origins.contains(&"submission") && origins.contains(&"receipt"), "{origins:?}");
    assert!(documents.iter().all(|d| d.registry_number == Some(1)), "every document carries the number");
    for d in &documents {
        assert!(page.contains(&d.sha256), "the case page shows each hash");
    }
    let upload = documents.iter().find(|d| d.origin == "upload").unwrap();
    let response = maria.get(&format!("/area-personale/pratiche/{id}/documenti/{}", upload.id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("planimetria.pdf"));
    assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    let receipt = documents.iter().find(|d| d.origin == "receipt").unwrap();
    let pdf = maria.get(&format!("/area-personale/pratiche/{id}/documenti/{}", receipt.id)).await;
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    // The confirmation e-mail carries the registry mark.
    let mail = last_message(&app, "valmora", "mail_outbox", "maria@example.it").await;
    assert!(mail.contains("Protocollo:") && mail.contains("-0000001"), "{mail}");

    // A submitted case cannot be edited nor submitted again.
    let again = maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), format!("/area-personale/pratiche/{id}"));

    // The office asks for more; the citizen answers with a document and a message.
    let state = app.state.clone();
    let tenant_model = tenant_of(&app, VALMORA).await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let request = office_requests(&app, &tenant_model, &mut tx, id, "Manca la visura catastale aggiornata.").await;
    messages::office_writes(
        state.env(),
        &tenant_model,
        &mut tx,
        id,
        "Geom. Bianchi",
        "Buongiorno, attendiamo la visura.",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let home = maria.get_text("/area-personale").await;
    assert!(home.contains("In attesa di una tua risposta") && home.contains("Messaggi non letti: 1"), "{home}");
    let page = maria.get_text(&format!("/area-personale/pratiche/{id}")).await;
    assert!(page.contains("Manca la visura catastale") && page.contains("attendiamo la visura"));
    assert!(page.contains("In attesa di integrazione"));
    let answer_page = maria.get_text(&format!("/area-personale/pratiche/{id}/integrazioni/{request}")).await;
    assert_translated(&answer_page);
    // An empty answer is refused with a message, and nothing is registered.
    let empty = maria
        .post_multipart(
            &format!("/area-personale/pratiche/{id}/integrazioni/{request}"),
            text_form(&[("risposta", " ")]),
        )
        .await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("Scrivi una risposta o allega almeno un documento"));
    let form = text_form(&[("risposta", "Ecco la visura.")])
        .part("documenti", Part::bytes(PDF.to_vec()).file_name("visura.pdf"));
    let response = maria.post_multipart(&format!("/area-personale/pratiche/{id}/integrazioni/{request}"), form).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let page = maria.get_text(&location(&response)).await;
    assert!(page.contains("Integrazione inviata") && page.contains("In istruttoria"), "{page}");
    assert!(page.contains("-0000002"), "the answer is registered like the submission");
    // Read status: the office's message is read once the case page was seen.
    let home = maria.get_text("/area-personale").await;
    assert!(!home.contains("Messaggi non letti"), "{home}");

    // The citizen writes to the office.
    let response = maria.post(&format!("/area-personale/pratiche/{id}/messaggi"), &[("body", "Grazie!")]).await;
    assert_eq!(response.status(), 303);
    let inbox = maria.get_text("/area-personale/messaggi").await;
    assert_translated(&inbox);
    assert!(inbox.contains("Grazie!") && inbox.contains("attendiamo la visura"));
    let timeline = maria.get_text(&format!("/area-personale/pratiche/{id}")).await;
    for event in ["submitted", "integration_requested", "integration_answered", "message"] {
        assert!(timeline.contains(&format!("data-event=\"{event}\"")), "{event}");
    }
}

/// The resolved ente behind `host`, as handlers see it.
pub async fn tenant_of(app: &TestApp, host: &str) -> std::sync::Arc<sportello::tenancy::Tenant> {
    match app.state.tenants.resolve(host).await.unwrap() {
        Some(sportello::tenancy::Site::Tenant(tenant)) => tenant,
        _ => panic!("{host} is not an ente"),
    }
}

#[tokio::test]
async fn bad_files_are_refused_with_a_clear_message_and_nothing_is_kept() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, GENERIC).await;
    let cases = [
        ("finto.pdf", b"MZ\x90\x00 not a pdf at all".to_vec(), "format"),
        ("../../etc/passwd.pdf", PDF.to_vec(), "name"),
        ("grande.pdf", [PDF, &vec![b' '; 21 * 1024 * 1024]].concat(), "size"),
    ];
    for (name, bytes, what) in cases {
        let response = fill_generic(&mut maria, id, vec![(name, bytes)]).await;
        assert_eq!(response.status(), 422, "{what}");
        let page = response.text().await.unwrap();
        assert_translated(&page);
        assert!(
            page.contains("is-invalid") || page.contains("invalid-feedback"),
            "{what}: the error is next to the field"
        );
    }
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    assert!(cases_db::documents(&mut tx, id).await.unwrap().is_empty(), "no refused file is recorded");
    tx.commit().await.unwrap();
    // Nothing was stored either (the store holds no object for the ente).
    assert!(app.state.store.list(tenant).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_procedure_asking_a_higher_level_sends_a_weaker_session_to_sign_in_again() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut luca = register(&app, VALMORA, "luca@example.it", "3331112222").await;
    luca.get_text("/accesso").await;
    let response = luca
        .post(
            "/accesso/password",
            &[("email", "luca@example.it"), ("password", crate::auth::PASSWORD), ("mode", "password")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let response = luca.get("/servizi/cila/richiesta").await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/accesso?next="), "{}", location(&response));
    // The generic procedure at level 1 starts.
    start(&mut luca, GENERIC).await;
}

#[tokio::test]
async fn five_hundred_concurrent_submissions_get_numbers_one_to_five_hundred() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, GENERIC).await;
    let response = fill_generic(&mut maria, id, vec![]).await;
    assert_eq!(response.status(), 303);
    // 500 complete drafts, copies of the first one.
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..500 {
        let copy = Uuid::new_v4();
        sqlx::query(
            "insert into cases (tenant_id, id, reference, user_id, procedure_slug, procedure_title, office_code, form,
                 time_limit_days, answers, step)
             select tenant_id, $2, 'PR-COPY' || $3, user_id, procedure_slug, procedure_title, office_code, form,
                 time_limit_days, answers, step from cases where id = $1",
        )
        .bind(id)
        .bind(copy)
        .bind(i)
        .execute(tx.conn())
        .await
        .unwrap();
        ids.push(copy);
    }
    tx.commit().await.unwrap();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|case| {
            // 500 submissions queue on the registry's lock: on a loaded 2-core
            // machine the last ones wait longer than the harness's 30 s. This
            // test checks the numbering, not the speed (see docs/BENCHMARKS.md).
            let mut browser = maria.clone().patient(300);
            tokio::spawn(async move {
                let response = browser.post(&format!("/area-personale/pratiche/{case}/invia"), &[]).await;
                assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let numbers: Vec<i64> =
        sqlx::query_scalar("select registry_number from cases where status = 'submitted' order by registry_number")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    assert_eq!(numbers, (1..=500).collect::<Vec<i64>>(), "gapless, no duplicates");
    let receipts: i64 = sqlx::query_scalar("select count(*) from case_documents where origin = 'receipt'")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(receipts, 500);
}

#[tokio::test]
async fn cases_documents_and_messages_of_another_ente_or_person_answer_404() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, GENERIC).await;
    let response = fill_generic(&mut maria, id, vec![("planimetria.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await.status(), 303);
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let document = cases_db::documents(&mut tx, id).await.unwrap().remove(0).id;
    tx.commit().await.unwrap();

    // Another person of the same ente, and a person of another ente.
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "333 111 2222").await;
    let mut gino = citizen(&app, ROCCAMARE, "gino@example.it", "333 444 5555").await;
    for other in [&mut luca, &mut gino] {
        for path in [
            format!("/area-personale/pratiche/{id}"),
            format!("/area-personale/pratiche/{id}/riepilogo"),
            format!("/area-personale/pratiche/{id}/passo/1"),
            format!("/area-personale/pratiche/{id}/documenti/{document}"),
        ] {
            assert_eq!(other.get(&path).await.status(), 404, "{path}");
        }
        let post = other.post(&format!("/area-personale/pratiche/{id}/messaggi"), &[("body", "ciao")]).await;
        assert_eq!(post.status(), 404);
        let post = other.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await;
        assert_eq!(post.status(), 404);
        let inbox = other.get_text("/area-personale/messaggi").await;
        assert!(!inbox.contains("mappale"));
    }
    // Row-level security: in Roccamare's scope the case does not exist at all.
    let roccamare = app.tenant_id_of("roccamare").await;
    let mut tx = TenantTx::begin(&app.db.app, roccamare).await.unwrap();
    assert!(cases_db::case_by_id(&mut tx, id, false).await.unwrap().is_none());
    assert!(cases_db::documents(&mut tx, id).await.unwrap().is_empty());
    assert!(messages::of_case(&mut tx, id).await.unwrap().is_empty());
}

#[tokio::test]
async fn assistance_requests_and_delegations_work_and_stay_private() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    // A company she represents, with a wrong then a right VAT number.
    let bad = maria
        .post(
            "/area-personale/deleghe",
            &[
                ("kind", "company"),
                ("represented_name", "Alfa S.r.l."),
                ("represented_code", "01234567890"),
                ("capacity", "legale rappresentante"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("partita IVA valida"));
    let ok = maria
        .post(
            "/area-personale/deleghe",
            &[
                ("kind", "company"),
                ("represented_name", "Alfa S.r.l."),
                ("represented_code", "01234567897"),
                ("capacity", "legale rappresentante"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 303);
    let page = maria.get_text("/servizi/certificato-destinazione-urbanistica/richiesta").await;
    assert!(page.contains("Alfa S.r.l."));
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let delegation: Uuid = sqlx::query_scalar("select id from delegations").fetch_one(tx.conn()).await.unwrap();
    tx.commit().await.unwrap();
    let response =
        maria.post(&format!("/servizi/{GENERIC}/richiesta"), &[("acting_for", &delegation.to_string())]).await;
    assert_eq!(response.status(), 303);
    let id = case_id_of(&location(&response));
    let response = fill_generic(&mut maria, id, vec![]).await;
    assert_eq!(response.status(), 303);
    let summary = maria.get_text(&format!("/area-personale/pratiche/{id}/riepilogo")).await;
    assert!(summary.contains("per conto di Alfa S.r.l. (P. IVA 01234567897)"), "{summary}");

    // Somebody else's delegation cannot be used.
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "333 111 2222").await;
    let response =
        luca.post(&format!("/servizi/{GENERIC}/richiesta"), &[("acting_for", &delegation.to_string())]).await;
    assert_eq!(response.status(), 404);

    // Assistance: a general administrative question, then its thread.
    let missing =
        maria.post("/area-personale/assistenza", &[("kind", "administrative"), ("subject", ""), ("body", "")]).await;
    assert_eq!(missing.status(), 422);
    let response = maria
        .post(
            "/area-personale/assistenza",
            &[
                ("kind", "administrative"),
                ("subject", "Orari ufficio tecnico"),
                ("body", "Quando riceve l'ufficio tecnico?"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let thread_url = location(&response);
    // The office answers; the citizen reads it in the thread and is e-mailed.
    let assistance = Uuid::parse_str(thread_url.rsplit('/').next().unwrap()).unwrap();
    let tenant_model = tenant_of(&app, VALMORA).await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    sportello::cases::assistance::staff_replies(
        &app.state,
        &tenant_model,
        &mut tx,
        assistance,
        "office",
        "URP",
        "Dal lunedì al venerdì.",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(last_message(&app, "valmora", "mail_outbox", "maria@example.it").await.contains("Orari ufficio tecnico"));
    let thread = maria.get_text(&thread_url).await;
    assert!(thread.contains("Dal lunedì al venerdì."));
    assert_translated(&thread);
    assert!(
        thread.contains("Quando riceve l'ufficio tecnico?") || thread.contains("Quando riceve l&#x27;ufficio tecnico?")
    );
    assert_eq!(luca.get(&thread_url).await.status(), 404, "another person's request is not found");
    let mut gino = citizen(&app, ROCCAMARE, "gino@example.it", "333 444 5555").await;
    assert_eq!(gino.get(&thread_url).await.status(), 404, "another ente's request is not found");
}

#[tokio::test]
async fn the_sweep_removes_objects_nothing_refers_to_and_keeps_the_rest() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, GENERIC).await;
    let kept = [PDF, b"% tenuto\n"].concat();
    let response = fill_generic(&mut maria, id, vec![("a.pdf", PDF.to_vec()), ("b.pdf", kept.clone())]).await;
    assert_eq!(response.status(), 303);
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let documents = cases_db::documents(&mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
    let removed = documents.iter().find(|d| d.name == "a.pdf").unwrap();
    let response =
        maria.post(&format!("/area-personale/pratiche/{id}/allegati/{}/elimina", removed.id), &[("step", "2")]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.state.store.list(tenant).await.unwrap().len(), 2, "removing an attachment keeps the object");
    // Within the grace period nothing goes; past it, only the unreferenced object.
    let swept = sportello::cases::sweep::sweep(&app.state, std::time::Duration::from_secs(3600)).await.unwrap();
    assert_eq!(swept.objects, 0);
    let swept = sportello::cases::sweep::sweep(&app.state, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(swept.objects, 1);
    let left: Vec<String> = app.state.store.list(tenant).await.unwrap().into_iter().map(|o| o.sha256).collect();
    let kept_doc = documents.iter().find(|d| d.name == "b.pdf").unwrap();
    assert_eq!(left, vec![kept_doc.sha256.clone()]);
}

#[tokio::test]
async fn a_storage_outage_keeps_the_step_and_the_submission_whole() {
    let mut server = S3Server::start_private().await;
    let app = spawn_app_with(server.bucket_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, GENERIC).await;
    let tenant = app.tenant_id_of("valmora").await;
    let documents = |app: &TestApp| {
        let pool = app.db.app.clone();
        async move {
            let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
            let documents = cases_db::documents(&mut tx, id).await.unwrap();
            let case = cases_db::case_by_id(&mut tx, id, false).await.unwrap().unwrap();
            let entries: i64 =
                sqlx::query_scalar("select count(*) from registry_entries").fetch_one(tx.conn()).await.unwrap();
            tx.commit().await.unwrap();
            (documents, case, entries)
        }
    };

    // Storage goes away: the step with a file is refused whole, with a clear message.
    server.kill();
    let response = fill_generic(&mut maria, id, vec![("planimetria.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 503);
    let page = response.text().await.unwrap();
    assert!(page.contains("archivio dei documenti non è al momento raggiungibile"), "{page}");
    let (docs, case, _) = documents(&app).await;
    assert!(docs.is_empty(), "no document row without its object");
    assert!(case.answers.0.get("subject").is_none(), "the failed step was not recorded");

    // Back again: the same step goes through.
    server.restart().await;
    let response = fill_generic(&mut maria, id, vec![("planimetria.pdf", PDF.to_vec())]).await;
    assert_eq!(response.status(), 303);

    // Down during submission: nothing is registered, the case stays a draft.
    server.kill();
    let response = maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await;
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("Nulla è stato protocollato"));
    let (_, case, entries) = documents(&app).await;
    assert_eq!((case.status.as_str(), case.registry_number, entries), ("draft", None, 0));

    // Back again: the submission takes number 1 — the failed attempt used none.
    server.restart().await;
    let response = maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await;
    assert_eq!(response.status(), 303);
    let (_, case, entries) = documents(&app).await;
    assert_eq!((case.status.as_str(), case.registry_number, entries), ("submitted", Some(1), 1));
}

/// A real procedure form (accesso agli atti): a file field shown on a condition,
/// then hidden by a changed answer, is not part of what is submitted.
#[tokio::test]
async fn a_file_of_a_field_hidden_by_a_later_answer_is_not_submitted() {
    let app = spawn_app_with(s3_settings().await).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = start(&mut maria, "accesso-atti").await;
    let step1 = format!("/area-personale/pratiche/{id}/passo/1");
    let identity = [
        ("given_name", "Maria"),
        ("family_name", "Rossi"),
        ("fiscal_code", "RSSMRA85T10A562S"),
        ("email", "maria@example.it"),
    ];
    // For others: the delegation is required, and attached.
    let form = text_form(&identity)
        .text("on_behalf", "others")
        .text("represented", "Giovanni Rossi")
        .part("delegation", Part::bytes(PDF.to_vec()).file_name("delega.pdf"));
    let response = maria.post_multipart(&step1, form).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    // Then for herself after all: the delegation field is hidden.
    let response = maria.post_multipart(&step1, text_form(&identity).text("on_behalf", "self")).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    // A required declaration left unticked is refused in Italian, next to the field.
    let step2 = format!("/area-personale/pratiche/{id}/passo/2");
    let details =
        [("access_type", "view"), ("documents", "Delibera di giunta n. 12/2026"), ("reason", "Sono confinante.")];
    let response = maria.post_multipart(&step2, text_form(&details)).await;
    assert_eq!(response.status(), 422);
    let page = response.text().await.unwrap();
    assert!(page.contains("is-invalid") && page.contains("aria-invalid=\"true\""), "{page}");
    let response = maria.post_multipart(&step2, text_form(&details).text("declaration", "1")).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let mut next = location(&response);
    // Any further steps of the form, as they come, until the summary.
    while next.contains("/passo/") {
        let response = maria.post_multipart(&next, Form::new()).await;
        assert_eq!(response.status(), 303, "{next}: {}", response.text().await.unwrap());
        next = location(&response);
    }
    assert!(next.ends_with("/riepilogo"), "{next}");
    let summary = maria.get_text(&next).await;
    assert!(!summary.contains("delega.pdf"), "the hidden field's file is not in the summary");
    assert_eq!(maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await.status(), 303);
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let names: Vec<String> = cases_db::documents(&mut tx, id).await.unwrap().into_iter().map(|d| d.name).collect();
    assert!(!names.iter().any(|n| n == "delega.pdf"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("ricevuta-")), "{names:?}");
}
