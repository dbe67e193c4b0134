//! Starting a case and filling its form: a draft saved at every step, files
//! attached as they are chosen, a summary to confirm before submission.

use axum::{
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    access::{self, OwnDraft},
    uploads::{self, Target},
};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{
        delegations,
        form::{self, FieldErrors, FormSpec, Identity},
        store::{self, file_counts, file_names, Case, Document},
    },
    state::AppState,
    tenancy::Level,
    users,
    web::{render_page, CurrentTenant},
};

pub async fn start_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path(slug): Path<String>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let terms = startable(&mut tx, &slug, &session).await?;
    let delegations = delegations::active(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let mut context = auth_context(&tenant, &csrf);
    context.insert("procedure_slug", &terms.slug);
    context.insert("procedure_title", &terms.title);
    context.insert("delegations", &delegations);
    context.insert("display_name", &session.display_name());
    Ok(render_page(&state, &tenant.site(), "cases/start.html", &context)?.into_response())
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    acting_for: String,
}

pub async fn start(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
    Path(slug): Path<String>,
    Form(start): Form<StartForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let terms = startable(&mut tx, &slug, &session).await?;
    // "self", or one of the person's own active delegations.
    let delegation_id = match Uuid::parse_str(&start.acting_for) {
        Ok(id) => Some(delegations::active_one(&mut tx, session.user_id, id).await?.ok_or(AppError::NotFound)?.id),
        Err(_) => None,
    };
    let user = users::by_id(&mut tx, session.user_id).await?.ok_or(AppError::NotFound)?;
    let spec = match &terms.form {
        Some(form) => form.0.clone(),
        None => FormSpec::generic(state.renderer.catalogues(), tenant.0.default_lang()),
    };
    let identity = Identity {
        given_name: Some(user.given_name.clone()),
        family_name: Some(user.family_name.clone()),
        fiscal_code: user.fiscal_code.clone(),
        email: user.email.clone(),
        mobile: user.mobile.clone(),
        ..Default::default()
    };
    let answers = form::prefill(&spec, &identity);
    let case = store::create_draft(
        &mut tx,
        store::NewDraft { user_id: user.id, delegation_id, procedure: &terms, form: &spec, answers: &answers },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&step_url(case.id, 0)).into_response())
}

/// The procedure, if it can be started online by this session; a session
/// below the procedure's level of assurance is sent to sign in again.
async fn startable(tx: &mut TenantTx, slug: &str, session: &CurrentSession) -> AppResult<store::ProcedureTerms> {
    let terms = store::procedure_terms(tx, slug).await?.filter(|t| t.online).ok_or(AppError::NotFound)?;
    // An out-of-range level in the data asks for the highest.
    if session.level < Level::try_from(terms.min_level).unwrap_or(Level::L3) {
        return Err(AppError::SignInRequired { next: format!("/servizi/{slug}/richiesta") });
    }
    Ok(terms)
}

pub fn step_url(case_id: Uuid, step: usize) -> String {
    format!("/area-personale/pratiche/{case_id}/passo/{}", step + 1)
}

pub async fn step_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    OwnDraft { mut tx, case, .. }: OwnDraft,
    Path((_, number)): Path<(Uuid, usize)>,
) -> AppResult<Response> {
    let step = step_index(&case, number)?;
    let documents = store::documents(&mut tx, case.id).await?;
    tx.commit().await?;
    let answers = case.answers.0.clone();
    render_step(&state, &tenant, &csrf, &case, step, &answers, &FieldErrors::default(), &documents, StatusCode::OK)
}

fn step_index(case: &Case, number: usize) -> AppResult<usize> {
    let count = case.form.0.steps.len();
    // Steps beyond the one reached are not skipped to.
    if number == 0 || number > count || number > case.step as usize + 1 {
        return Err(AppError::NotFound);
    }
    Ok(number - 1)
}

pub async fn save_step(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path((id, number)): Path<(Uuid, usize)>,
    multipart: Multipart,
) -> AppResult<Response> {
    let _slot = state.uploads.acquire(tenant.0.id, session.user_id)?;
    // Whose draft, which step: checked before the body is read, in a
    // transaction of its own — no connection is held while the files arrive.
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = match access::own_draft(&mut tx, id, &session).await? {
        Ok(case) => case,
        Err(redirect) => return Ok(redirect),
    };
    let step = step_index(&case, number)?;
    tx.commit().await?;
    let spec = case.form.0.clone();
    let mut received =
        uploads::receive(&state, tenant.0.id, multipart, |name| file_policy(&state, &spec, step, name)).await?;
    // One short transaction records the step; the draft is locked again (it may
    // have been submitted or deleted while the files arrived).
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = match access::own_draft(&mut tx, id, &session).await? {
        Ok(case) => case,
        Err(redirect) => return Ok(redirect),
    };
    let target = Target { case_id: id, origin: "upload", integration_id: None, message_id: None };
    if !received.storage_failed() {
        uploads::record(&state, &mut tx, &target, &mut received).await?;
    }
    let (mut answers, mut errors) = form::parse_step(&spec, step, &received.fields, &case.answers.0);
    for (field, refusal) in &received.refused {
        errors.0.entry(field.clone()).or_insert_with(|| refusal.message());
    }
    if received.storage_failed() {
        // Nothing of this step is kept: the files did not all reach storage.
        tx.rollback().await?;
        let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
        let documents = store::documents(&mut tx, id).await?;
        tx.commit().await?;
        let status = StatusCode::SERVICE_UNAVAILABLE;
        return render_step(&state, &tenant, &csrf, &case, step, &answers, &errors, &documents, status);
    }
    // The draft keeps what was typed, valid or not: nothing is lost.
    store::save_answers(&mut tx, id, &answers, if errors.is_empty() { step as i32 + 1 } else { step as i32 }).await?;
    let documents = store::documents(&mut tx, id).await?;
    if let Some(action) = form::parse_action(&received.fields) {
        // A row added or removed: the same step again, without errors yet.
        form::apply_action(&spec, step, &mut answers, &action);
        store::save_answers(&mut tx, id, &answers, step as i32).await?;
        tx.commit().await?;
        return render_step(
            &state,
            &tenant,
            &csrf,
            &case,
            step,
            &answers,
            &FieldErrors::default(),
            &documents,
            StatusCode::OK,
        );
    }
    for (field, message) in missing_files(&spec, step, &answers, &documents).0 {
        errors.0.entry(field).or_insert(message);
    }
    tx.commit().await?;
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render_step(&state, &tenant, &csrf, &case, step, &answers, &errors, &documents, status);
    }
    let next = if step + 1 < spec.steps.len() {
        step_url(id, step + 1)
    } else {
        format!("/area-personale/pratiche/{id}/riepilogo")
    };
    Ok(Redirect::to(&next).into_response())
}

/// The rules of a file field of this step.
fn file_policy(state: &AppState, spec: &FormSpec, step: usize, name: &str) -> Option<crate::fascicolo::UploadPolicy> {
    let field = spec.steps[step].fields.iter().find(|f| f.key == name && f.kind == form::FieldType::File)?;
    Some(uploads::policy(state, &field.accept, Some(u64::from(field.max_mb()))))
}

/// Required file fields of this step still without a document.
fn missing_files(spec: &FormSpec, step: usize, answers: &form::Answers, documents: &[Document]) -> FieldErrors {
    form::check_files(spec, Some(step), answers, &file_counts(documents))
}

#[allow(clippy::too_many_arguments)]
fn render_step(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    case: &Case,
    step: usize,
    answers: &form::Answers,
    errors: &FieldErrors,
    documents: &[Document],
    status: StatusCode,
) -> AppResult<Response> {
    let spec = &case.form.0;
    let mut context = auth_context(tenant, csrf);
    context.insert("case", case);
    context.insert("step", &form::step_view(spec, step, answers, errors));
    context.insert("step_number", &(step + 1));
    context.insert("step_count", &spec.steps.len());
    context.insert("errors", errors);
    let in_step: Vec<&Document> = documents
        .iter()
        .filter(|d| d.field_key.as_deref().is_some_and(|k| spec.steps[step].fields.iter().any(|f| f.key == k)))
        .collect();
    context.insert("attachments", &in_step);
    context.insert("storage_failed", &(status == StatusCode::SERVICE_UNAVAILABLE));
    Ok((status, render_page(state, &tenant.site(), "cases/step.html", &context)?).into_response())
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    step: usize,
}

pub async fn remove_attachment(
    OwnDraft { mut tx, case, .. }: OwnDraft,
    Path((id, document_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<RemoveForm>,
) -> AppResult<Response> {
    if !store::remove_draft_document(&mut tx, id, document_id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    // The stored object stays until the sweep finds nothing refers to it.
    let step = form.step.clamp(1, case.form.0.steps.len()) - 1;
    Ok(Redirect::to(&step_url(id, step)).into_response())
}

pub async fn summary_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    OwnDraft { mut tx, case, .. }: OwnDraft,
) -> AppResult<Response> {
    let documents = store::documents(&mut tx, case.id).await?;
    let acting_for = delegations::acting_for(&mut tx, case.delegation_id).await?;
    tx.commit().await?;
    let errors = form::validate_all(&case.form.0, &case.answers.0, &file_counts(&documents));
    render_summary(&state, &tenant, &csrf, &case, &documents, acting_for.as_ref(), &errors)
}

pub fn render_summary(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    case: &Case,
    documents: &[Document],
    acting_for: Option<&Text>,
    errors: &FieldErrors,
) -> AppResult<Response> {
    let spec = &case.form.0;
    let mut context = auth_context(tenant, csrf);
    context.insert("case", case);
    context.insert("sections", &form::summary(spec, &case.answers.0, &file_names(documents)));
    context.insert("documents", documents);
    context.insert("acting_for", &acting_for);
    // Each error links to the step holding the field.
    let problems: Vec<serde_json::Value> = errors
        .iter()
        .map(|(field, message)| {
            let root = field.split('.').next().unwrap_or(field);
            let step = spec.steps.iter().position(|s| s.fields.iter().any(|f| f.key == root)).unwrap_or(0);
            serde_json::json!({ "message": message, "url": format!("{}#{}", step_url(case.id, step), field) })
        })
        .collect();
    context.insert("problems", &problems);
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render_page(state, &tenant.site(), "cases/summary.html", &context)?).into_response())
}

pub async fn delete_draft(OwnDraft { mut tx, case, .. }: OwnDraft) -> AppResult<Response> {
    store::delete_draft(&mut tx, case.id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/area-personale").into_response())
}
