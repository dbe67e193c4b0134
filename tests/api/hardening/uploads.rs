//! Issue 10, symptoms 2 and 6: slow uploads must not take the platform down
//! (no database connection held while a body arrives, read timeouts, bounded
//! concurrent uploads), and the orphan sweep must not race a document's re-use.

use std::time::{Duration, SystemTime};

use reqwest::multipart::{Form, Part};
use sportello::{
    cases::sweep,
    config::Settings,
    db::TenantTx,
    fascicolo::{Store, StoreError, UploadPolicy},
    procedure::store as cases_db,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use uuid::Uuid;

use crate::{
    auth::{PASSWORD, ROCCAMARE, VALMORA},
    cases::{citizen, start, GENERIC, PDF},
    helpers::{local_storage_settings, location, s3_server, s3_settings, spawn_app_with, Browser, TestApp},
};

const BOUNDARY: &str = "sportello-lento";
/// A safety net for reads that must end: far above any timeout the tests set.
const NO_ANSWER: Duration = Duration::from_secs(30);

/// The head of a response read from a raw socket: its status line.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(NO_ANSWER, async {
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => head.push(byte[0]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within {NO_ANSWER:?}");
    String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string()
}

fn cookie_header(browser: &Browser) -> String {
    browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

/// A citizen's upload over a slow link that stops: the headers (asking for
/// `100 Continue`, which the server sends once the handler starts reading the
/// body), then the start of a file, then nothing. Returns the socket, kept open,
/// and the status line of the server's first answer.
async fn stalled_upload(browser: &Browser, path: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", browser.port)).await.unwrap();
    let token = browser.cookies.get("sportello_csrf").cloned().unwrap_or_default();
    let head = format!(
        "POST {path}?csrf_token={token} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookies}\r\nOrigin: http://{host}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 10000000\r\n\
         Expect: 100-continue\r\n\r\n",
        host = browser.host,
        cookies = cookie_header(browser),
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let status = read_head(&mut stream).await;
    if status.contains(" 100 ") {
        let part = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nUn allegato lento\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"lento.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
        );
        stream.write_all(part.as_bytes()).await.unwrap();
        stream.write_all(&[b' '; 4096]).await.unwrap();
        stream.flush().await.unwrap();
    }
    (stream, status)
}

fn step_one_form() -> Form {
    [
        ("given_name", "Maria"),
        ("family_name", "Rossi"),
        ("fiscal_code", "RSSMRA85T10A562S"),
        ("email", "maria@example.it"),
        ("phone", "347 123 4567"),
    ]
    .iter()
    .fold(Form::new(), |form, (k, v)| form.text(k.to_string(), v.to_string()))
}

/// A draft of the generic procedure with its first step done: step 2 takes files.
async fn draft_at_step_two(browser: &mut Browser) -> Uuid {
    let id = start(browser, GENERIC).await;
    let response = browser.post_multipart(&format!("/area-personale/pratiche/{id}/passo/1"), step_one_form()).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    id
}

fn step_two(id: Uuid) -> String {
    format!("/area-personale/pratiche/{id}/passo/2")
}

fn files_form(files: &[(&str, &[u8])]) -> Form {
    let mut form = Form::new().text("subject", "Chiedo il certificato per il mappale 123 del foglio 4.");
    for (name, bytes) in files {
        form = form.part("attachments", Part::bytes(bytes.to_vec()).file_name(name.to_string()));
    }
    form
}

async fn sign_in_with_password(app: &TestApp, host: &str, email: &str) -> Browser {
    let mut browser = Browser::new(app, host);
    browser.get_text("/accesso").await;
    let response =
        browser.post("/accesso/password", &[("email", email), ("password", PASSWORD), ("mode", "password")]).await;
    assert_eq!(response.status(), 303, "a sign-in answers: {}", location(&response));
    browser
}

#[tokio::test]
async fn stalled_uploads_hold_no_database_connection_and_every_ente_keeps_answering() {
    let settings = Settings { database_pool_size: 4, ..local_storage_settings() };
    let app = spawn_app_with(settings).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "333 111 2222").await;
    let mut gino = citizen(&app, ROCCAMARE, "gino@example.it", "333 444 5555").await;
    let mut drafts = Vec::new();
    for browser in [&mut maria, &mut luca] {
        for _ in 0..3 {
            let id = start(browser, GENERIC).await;
            drafts.push((browser.clone(), id));
        }
    }
    // Six uploads stall half-way, more than the pool's four connections.
    let mut stalled = Vec::new();
    for (i, (browser, id)) in drafts.iter().enumerate() {
        let (stream, status) = stalled_upload(browser, &format!("/area-personale/pratiche/{id}/passo/1")).await;
        assert!(status.contains(" 100 "), "stalled upload {} was not let in: {status:?}", i + 1);
        stalled.push(stream);
    }
    // Meanwhile another ente's signed-in page answers, and so do a sign-in and the
    // signed-in pages of the ente receiving the uploads.
    assert_eq!(gino.get("/area-personale").await.status(), 200);
    let mut again = sign_in_with_password(&app, VALMORA, "maria@example.it").await;
    assert_eq!(again.get("/area-personale").await.status(), 200);
    assert_eq!(luca.get("/area-personale").await.status(), 200);
    drop(stalled);
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_cut_off_and_nothing_of_it_is_kept() {
    let settings = Settings { body_idle_timeout_secs: 1, ..local_storage_settings() };
    let app = spawn_app_with(settings).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = draft_at_step_two(&mut maria).await;
    let (mut stream, status) = stalled_upload(&maria, &step_two(id)).await;
    assert!(status.contains(" 100 "), "{status}");
    // The server gives up on the silent body and says so.
    let answer = read_head(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "the stalled body is cut off: {answer:?}");
    let tenant = app.tenant_id_of("valmora").await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    assert!(cases_db::documents(&mut tx, id).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    assert_eq!(app.state.store.staging_count().await.unwrap(), 0, "no staging file is left");
    // The draft still works.
    let response = maria.post_multipart(&step_two(id), files_form(&[("a.pdf", PDF)])).await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn headers_that_never_end_are_cut_off() {
    let settings = Settings { header_read_timeout_secs: 1, ..local_storage_settings() };
    let app = spawn_app_with(settings).await;
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    stream.write_all(b"GET /area-personale HTTP/1.1\r\nHost: valmora.localhost\r\nX-Lento: ").await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(NO_ANSWER, stream.read(&mut buf)).await;
    let answer = match read {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).to_string(),
        Ok(Err(_)) => String::new(),
        Err(_) => panic!("the connection is still open after {NO_ANSWER:?}"),
    };
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn concurrent_uploads_are_bounded_per_citizen_and_per_ente_with_an_italian_message() {
    let settings = Settings { uploads_per_citizen: 2, uploads_per_ente: 3, ..local_storage_settings() };
    let app = spawn_app_with(settings).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let mut luca = citizen(&app, VALMORA, "luca@example.it", "333 111 2222").await;
    let mut gino = citizen(&app, ROCCAMARE, "gino@example.it", "333 444 5555").await;
    let mut maria_drafts = Vec::new();
    for _ in 0..3 {
        maria_drafts.push(draft_at_step_two(&mut maria).await);
    }
    let luca_drafts = [draft_at_step_two(&mut luca).await, draft_at_step_two(&mut luca).await];
    let gino_draft = draft_at_step_two(&mut gino).await;

    let mut stalled = Vec::new();
    for id in &maria_drafts[..2] {
        let (stream, status) = stalled_upload(&maria, &step_two(*id)).await;
        assert!(status.contains(" 100 "), "{status}");
        stalled.push(stream);
    }
    // A third upload of the same citizen is refused, in Italian, before its body is read.
    let refused = maria.post_multipart(&step_two(maria_drafts[2]), files_form(&[("a.pdf", PDF)])).await;
    assert_eq!(refused.status(), 429);
    let page = refused.text().await.unwrap();
    assert!(page.contains("caricamenti in corso"), "{page}");
    crate::helpers::assert_translated(&page);
    // Another citizen of the ente takes its last slot; then the ente is full.
    let (stream, status) = stalled_upload(&luca, &step_two(luca_drafts[0])).await;
    assert!(status.contains(" 100 "), "{status}");
    stalled.push(stream);
    let refused = luca.post_multipart(&step_two(luca_drafts[1]), files_form(&[("a.pdf", PDF)])).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.text().await.unwrap().contains("caricamenti in corso"));
    // Another ente is not affected.
    let response = gino.post_multipart(&step_two(gino_draft), files_form(&[("a.pdf", PDF)])).await;
    assert_eq!(response.status(), 303);
    // A stalled upload that ends (its client closes the body) frees its slot.
    let mut first = stalled.remove(0);
    first.shutdown().await.unwrap();
    let answer = read_head(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    let response = maria.post_multipart(&step_two(maria_drafts[2]), files_form(&[("a.pdf", PDF)])).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn multipart_forms_with_too_many_fields_are_refused() {
    let app = spawn_app_with(local_storage_settings()).await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = draft_at_step_two(&mut maria).await;
    let form = (0..5000).fold(files_form(&[]), |form, i| form.text(format!("campo{i}"), "x"));
    let response = maria.post_multipart(&step_two(id), form).await;
    assert_eq!(response.status(), 413);
    // Many small text fields adding up to more than the forms' total are refused too.
    let form = (0..40).fold(files_form(&[]), |form, i| form.text(format!("campo{i}"), "x".repeat(60 * 1024)));
    let response = maria.post_multipart(&step_two(id), form).await;
    assert_eq!(response.status(), 413);
}

// ---------------------------------------------------------------------------
// Symptom 6: the orphan sweep and deduplication.

async fn documents_of(app: &TestApp, tenant: Uuid, case: Uuid) -> Vec<cases_db::Document> {
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let documents = cases_db::documents(&mut tx, case).await.unwrap();
    tx.commit().await.unwrap();
    documents
}

async fn remove_attachments(browser: &mut Browser, app: &TestApp, tenant: Uuid, case: Uuid) {
    for document in documents_of(app, tenant, case).await {
        let path = format!("/area-personale/pratiche/{case}/allegati/{}/elimina", document.id);
        assert_eq!(browser.post(&path, &[("step", "2")]).await.status(), 303);
    }
}

#[tokio::test]
async fn a_file_uploaded_again_while_the_sweep_runs_stays_with_the_submitted_case() {
    let app = spawn_app_with(s3_settings().await).await;
    let tenant = app.tenant_id_of("valmora").await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = draft_at_step_two(&mut maria).await;
    let bytes = [PDF, b"% planimetria\n"].concat();
    let response = maria.post_multipart(&step_two(id), files_form(&[("planimetria.pdf", bytes.as_slice())])).await;
    assert_eq!(response.status(), 303);
    remove_attachments(&mut maria, &app, tenant, id).await;
    // The sweep lists: the object is an orphan.
    let candidates = sweep::candidates(&app.state, Duration::ZERO).await.unwrap();
    assert_eq!(candidates.len(), 1);
    // Before it removes anything, the citizen uploads the same file again and submits.
    let response = maria.post_multipart(&step_two(id), files_form(&[("planimetria.pdf", bytes.as_slice())])).await;
    assert_eq!(response.status(), 303);
    assert_eq!(maria.post(&format!("/area-personale/pratiche/{id}/invia"), &[]).await.status(), 303);
    let removed = sweep::remove(&app.state, &candidates, Duration::ZERO).await.unwrap();
    assert_eq!(removed, 0, "a document refers to it again");
    let document = documents_of(&app, tenant, id).await.into_iter().find(|d| d.name == "planimetria.pdf").unwrap();
    let response = maria.get(&format!("/area-personale/pratiche/{id}/documenti/{}", document.id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
}

/// Makes a stored object look `age` old, behind the store's back.
async fn age_object(settings: &Settings, tenant: Uuid, sha256: &str, age: Duration) {
    let key = format!("{tenant}/{}/{sha256}", &sha256[..2]);
    let path = match settings.storage_backend.as_str() {
        "local" => settings.storage_dir().join(&key),
        _ => s3_server().await.dir.join(settings.s3_bucket.as_deref().unwrap()).join(&key),
    };
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn the_sweep_spares_an_object_reused_after_its_listing_and_removes_true_orphans() {
    let settings = local_storage_settings();
    let app = spawn_app_with(settings.clone()).await;
    let tenant = app.tenant_id_of("valmora").await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = draft_at_step_two(&mut maria).await;
    let reused = [PDF, b"% riusato\n"].concat();
    let orphan = [PDF, b"% orfano\n"].concat();
    let response = maria
        .post_multipart(
            &step_two(id),
            files_form(&[("riusato.pdf", reused.as_slice()), ("orfano.pdf", orphan.as_slice())]),
        )
        .await;
    assert_eq!(response.status(), 303);
    let documents = documents_of(&app, tenant, id).await;
    let sha = |name: &str| documents.iter().find(|d| d.name == name).unwrap().sha256.clone();
    let (reused_sha, orphan_sha) = (sha("riusato.pdf"), sha("orfano.pdf"));
    remove_attachments(&mut maria, &app, tenant, id).await;
    let two_hours = Duration::from_secs(7200);
    age_object(&settings, tenant, &reused_sha, two_hours).await;
    age_object(&settings, tenant, &orphan_sha, two_hours).await;
    let grace = Duration::from_secs(3600);
    let candidates = sweep::candidates(&app.state, grace).await.unwrap();
    assert_eq!(candidates.len(), 2);
    // A request stores the same bytes again (its transaction is still to come).
    let policy = UploadPolicy::from_extensions(["pdf"], 1 << 20);
    let stored = app.state.store.put_bytes(tenant, reused.clone().into(), &policy).await.unwrap();
    assert_eq!(stored.sha256, reused_sha);
    let removed = sweep::remove(&app.state, &candidates, grace).await.unwrap();
    assert_eq!(removed, 1, "only the true orphan goes");
    assert!(app.state.store.exists(tenant, &reused_sha).await.unwrap(), "the re-used object stays");
    assert!(!app.state.store.exists(tenant, &orphan_sha).await.unwrap(), "the orphan is removed");
}

#[tokio::test]
async fn a_document_whose_object_is_gone_is_never_recorded() {
    let app = spawn_app_with(local_storage_settings()).await;
    let tenant = app.tenant_id_of("valmora").await;
    let mut maria = citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let id = draft_at_step_two(&mut maria).await;
    let mut tx = TenantTx::begin(&app.db.app, tenant).await.unwrap();
    let missing = "ab".repeat(32);
    let result = cases_db::add_document(
        &mut tx,
        &app.state.store,
        cases_db::NewDocument {
            case_id: id,
            field_key: Some("attachments"),
            origin: "upload",
            name: "sparito.pdf",
            format: "pdf",
            mime: "application/pdf",
            size: 10,
            sha256: &missing,
            integration_id: None,
            message_id: None,
        },
    )
    .await;
    assert!(matches!(result, Err(cases_db::DocumentError::Storage(StoreError::NotFound))), "{result:?}");
}

/// Re-use refreshes an object, so that a sweep listing taken before sees it young:
/// on both backends (the S3 one copies the object onto itself).
#[tokio::test]
async fn a_deduplicated_put_refreshes_the_object_on_both_backends() {
    for settings in [local_storage_settings(), s3_settings().await] {
        let store = Store::from_settings(&settings).await.unwrap();
        let tenant = Uuid::new_v4();
        let policy = UploadPolicy::from_extensions(["pdf"], 1 << 20);
        let bytes = [PDF, b"% rinfrescato\n"].concat();
        let stored = store.put_bytes(tenant, bytes.clone().into(), &policy).await.unwrap();
        age_object(&settings, tenant, &stored.sha256, Duration::from_secs(7200)).await;
        let listed = store.list(tenant).await.unwrap();
        assert!(
            listed[0].last_modified < SystemTime::now() - Duration::from_secs(3600),
            "{}",
            settings.storage_backend
        );
        let again = store.put_bytes(tenant, bytes.clone().into(), &policy).await.unwrap();
        assert_eq!(again, stored);
        let listed = store.list(tenant).await.unwrap();
        assert!(
            listed[0].last_modified > SystemTime::now() - Duration::from_secs(3600),
            "{}: re-use makes the object young again",
            settings.storage_backend
        );
        let read = store.get(tenant, &stored.sha256).await.unwrap().read_all().await.unwrap();
        assert_eq!(read, bytes, "{}: the content is untouched", settings.storage_backend);
    }
}
