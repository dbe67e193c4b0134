//! The ente's offices in the console (`/admin/uffici`): the tree, and a
//! synchronisation with IPA — the admin uploads IPA's "Unità Organizzative"
//! file, sees what it would change (new offices, changed fields, offices to
//! close) and applies it, all or nothing. What was read waits in the database
//! between the preview and the application, so what is applied is what was
//! seen, re-planned against the offices as they are then. See docs/ORGANISATION.md.

pub mod editor;

use std::time::Duration;

use axum::{
    extract::{DefaultBodyLimit, Multipart, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{catalogue::Outcome, context, Admin, Section, READ, WRITE};
use crate::{
    audit::Actor,
    auth::{authz::RouteSpec, page::Page},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    jobs::{NewJob, Permanent},
    organisation::{
        ipa::{self, IpaOffice},
        offices::{self, Source},
    },
    state::AppState,
};

/// Why a file was refused, with its line when there is one.
fn refusal_text(refusal: ipa::Refusal) -> Text {
    match refusal.line {
        Some(line) => Text::new("admin.offices.refused_at").with("line", line).with_text("reason", refusal.message),
        None => Text::new("admin.offices.refused").with_text("reason", refusal.message),
    }
}

/// The national file is some 60 MB; a little more is allowed.
const MAX_FILE_BYTES: usize = 96 * 1024 * 1024;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/admin/uffici", &["GET"], READ, get(tree)),
        RouteSpec::new(
            "/admin/uffici/ipa",
            &["POST"],
            WRITE,
            post(preview).layer(DefaultBodyLimit::max(MAX_FILE_BYTES + 64 * 1024)),
        ),
        RouteSpec::new("/admin/uffici/ipa/applica", &["POST"], WRITE, post(apply)),
        RouteSpec::new("/admin/uffici/nuovo", &["GET", "POST"], WRITE, get(editor::new_office).post(editor::create)),
        RouteSpec::new("/admin/uffici/{code}", &["GET", "POST"], WRITE, get(editor::editor).post(editor::save)),
        RouteSpec::new("/admin/uffici/{code}/chiudi", &["POST"], WRITE, post(editor::close)),
        RouteSpec::new("/admin/uffici/{code}/riapri", &["POST"], WRITE, post(editor::reopen)),
    ]
}

async fn tree_page(
    page: &Page,
    admin: &Admin,
    outcome: Option<&'static str>,
    refusal: Option<String>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let offices = offices::tree(offices::all(&mut tx).await?);
    let last = offices::last_sync(&mut tx).await?;
    tx.commit().await?;
    let mut context = context(page, admin, Section::Offices);
    context.insert("offices", &offices);
    context.insert("ipa_code", &page.tenant.0.profile.ipa_code);
    context.insert("last_sync", &last);
    context.insert("daily", &page.state.settings.ipa_offices_url.is_some());
    context.insert("outcome", &outcome);
    let status = if refusal.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    context.insert("refusal", &refusal);
    page.render_with(status, "admin/offices.html", &context)
}

pub async fn tree(page: Page, admin: Admin, Query(outcome): Query<Outcome>) -> AppResult<Response> {
    tree_page(&page, &admin, outcome.message(), None).await
}

/// The uploaded file, read whole (up to the limit).
async fn received_file(mut multipart: Multipart) -> AppResult<Option<Vec<u8>>> {
    let bad_body = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::BadRequest("the IPA form's body is not a readable multipart form")
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_body)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut body = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad_body)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_FILE_BYTES {
                return Err(AppError::PayloadTooLarge);
            }
        }
        return Ok(Some(body).filter(|b| !b.is_empty()));
    }
    Ok(None)
}

/// Reads the upload for this ente; a refusal is shown next to the file input.
pub async fn preview(page: Page, admin: Admin, multipart: Multipart) -> AppResult<Response> {
    let Some(body) = received_file(multipart).await? else {
        return tree_page(&page, &admin, None, Some(page.text(&Text::new("admin.offices.no_file")))).await;
    };
    let ipa_code = page.tenant.0.profile.ipa_code.clone();
    if ipa_code.trim().is_empty() {
        return tree_page(&page, &admin, None, Some(page.text(&Text::new("admin.offices.no_ipa_code")))).await;
    }
    let sha256 = hex::encode(openssl::sha::sha256(&body));
    // Parsing 130,000 rows takes a while: off the async threads.
    let read = tokio::task::spawn_blocking(move || ipa::read(&body, &ipa_code))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading the IPA file: {e}")))?;
    let read = match read {
        Ok(read) => read,
        Err(refusal) => return tree_page(&page, &admin, None, Some(page.text(&refusal_text(refusal)))).await,
    };
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let plan = ipa::plan(&read, &offices::current(&mut tx).await?);
    let kept = serde_json::to_vec(&read).map_err(|e| AppError::Internal(e.into()))?;
    let upload = offices::keep_upload(&mut tx, &kept, &sha256, &admin.actor.label).await?;
    tx.commit().await?;
    let mut context = context(&page, &admin, Section::Offices);
    context.insert("plan", &plan);
    context.insert("upload", &upload);
    page.render("admin/offices_sync.html", &context)
}

#[derive(Deserialize)]
pub struct ApplyForm {
    upload: Uuid,
}

pub async fn apply(page: Page, admin: Admin, Form(input): Form<ApplyForm>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let Some((kept, sha256)) = offices::take_upload(&mut tx, input.upload).await? else {
        // Applied already, or superseded by a newer upload.
        tx.rollback().await?;
        return Ok(Redirect::to("/admin/uffici?esito=ipa-scaduto").into_response());
    };
    let read: Vec<IpaOffice> = serde_json::from_slice(&kept).map_err(|e| AppError::Internal(e.into()))?;
    let plan = ipa::plan(&read, &offices::current(&mut tx).await?);
    let applied = offices::apply(&mut tx, &plan, &sha256, Source::Upload, &admin.actor).await?;
    super::catalogue::changed(&page.state, tx).await?;
    let outcome = if applied == offices::Applied::default() { "ipa-invariato" } else { "ipa-applicato" };
    Ok(Redirect::to(&format!("/admin/uffici?esito={outcome}")).into_response())
}

/// The daily synchronisation from the address the platform configures
/// (`ipa_offices_url`): one job per ente with an IPA code and day.
pub const SYNC_JOB: &str = "ipa_sync";

pub fn jobs() -> Vec<(&'static str, crate::jobs::Handler)> {
    vec![(SYNC_JOB, |state, tenant, _payload| Box::pin(async move { sync_from_url(&state, tenant).await }))]
}

fn job(day: DateTime<Utc>) -> NewJob {
    let key = format!("ipa-sync:{}", day.format("%Y-%m-%d"));
    NewJob { kind: SYNC_JOB, key, payload: serde_json::json!({}), run_at: None }
}

/// Enqueues today's synchronisation for every ente with an IPA code; returns
/// how many were new (0 when another node, or an earlier hour, did it).
pub async fn schedule(state: &AppState, at: DateTime<Utc>) -> anyhow::Result<usize> {
    if state.settings.ipa_offices_url.is_none() {
        return Ok(0);
    }
    let tenants: Vec<Uuid> =
        sqlx::query_scalar("select id from tenants where coalesce(profile->>'ipa_code', '') <> '' order by id")
            .fetch_all(&state.db)
            .await?;
    Ok(crate::jobs::enqueue_for(&state.db, &tenants, || job(at)).await?)
}

/// Schedules the day's synchronisations every hour (the first time five
/// minutes after the start) until `stop`: the day's key makes it once a day.
pub async fn schedule_until(state: AppState, stop: CancellationToken) {
    let times = (Duration::from_secs(5 * 60), Duration::from_secs(3600));
    crate::jobs::every(stop, times, "ipa_sync", || schedule(&state, Utc::now())).await
}

/// Downloads the configured file and applies the ente's rows of it, all or
/// nothing. A refused file is recorded where the admin sees it and fails the
/// job without retries (the same file would be refused again); a download
/// that fails is retried.
async fn sync_from_url(state: &AppState, tenant: Uuid) -> anyhow::Result<()> {
    let Some(url) = state.settings.ipa_offices_url.clone() else { return Ok(()) };
    let ipa_code: String = sqlx::query_scalar("select coalesce(profile->>'ipa_code', '') from tenants where id = $1")
        .bind(tenant)
        .fetch_one(&state.db)
        .await?;
    if ipa_code.trim().is_empty() {
        return Ok(());
    }
    let body = todays_file(state, &url).await?;
    let sha256 = hex::encode(openssl::sha::sha256(&body));
    let read = tokio::task::spawn_blocking(move || ipa::read(&body, &ipa_code)).await?;
    let actor = Actor::system("ipa-sync");
    let mut tx = TenantTx::begin(&state.db, tenant).await?;
    let read = match read {
        Ok(read) => read,
        Err(refusal) => {
            let line = refusal.line;
            let english = crate::i18n::Catalogues::english().text("en", &refusal.message);
            offices::record_refusal(&mut tx, &sha256, Source::Url, &actor, &refusal_text(refusal)).await?;
            tx.commit().await?;
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            return Err(Permanent(format!("the IPA file was refused{at}: {english}")).into());
        }
    };
    let plan = ipa::plan(&read, &offices::current(&mut tx).await?);
    let applied = offices::apply(&mut tx, &plan, &sha256, Source::Url, &actor).await?;
    super::catalogue::changed(state, tx).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    tracing::info!(%tenant, added = applied.added, changed = applied.changed, closed = applied.closed, "IPA offices synchronised");
    Ok(())
}

/// Today's file at `url`, downloaded once per node and day: every ente's job
/// reads the same national file, so the first one of the day on this node
/// downloads it into the data directory (`ipa/<day>-<address hash>`) and the
/// others read it from there. Earlier days' files are removed.
async fn todays_file(state: &AppState, url: &str) -> anyhow::Result<Vec<u8>> {
    static DOWNLOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let dir = state.settings.data_dir.join("ipa");
    let address = hex::encode(&openssl::sha::sha256(url.as_bytes())[..8]);
    let path = dir.join(format!("{}-{address}", Utc::now().format("%Y-%m-%d")));
    // One download at a time on this node: the jobs of the other enti wait for it.
    let _one = DOWNLOADING.lock().await;
    if let Ok(body) = tokio::fs::read(&path).await {
        return Ok(body);
    }
    let body = download(url).await?;
    tokio::fs::create_dir_all(&dir).await?;
    let partial = path.with_extension("part");
    tokio::fs::write(&partial, &body).await?;
    tokio::fs::rename(&partial, &path).await?;
    let mut entries = tokio::fs::read_dir(&dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry.path() != path {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
    Ok(body)
}

/// The file at `url`, at most `MAX_FILE_BYTES`. The address is the platform
/// operator's, not an ente's: it may redirect (IPA's open-data portal does).
async fn download(url: &str) -> anyhow::Result<Vec<u8>> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .expect("building the IPA download client")
    });
    let mut response = client.get(url).send().await?.error_for_status()?;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_FILE_BYTES {
            return Err(Permanent(format!("the IPA file is larger than {MAX_FILE_BYTES} bytes")).into());
        }
    }
    Ok(body)
}
