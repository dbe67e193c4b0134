//! Submission: in one transaction the application is written to the case file,
//! registered (protocollo), its documents marked with the registry number, the
//! receipt generated and stored, the timeline and the confirmation e-mail
//! written. If anything fails — storage included — the transaction rolls back:
//! no number is used, the case stays a draft, and the objects already stored
//! are unreferenced, for the sweep.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use bytes::Bytes;
use serde_json::json;
use uuid::Uuid;

use super::draft;
use crate::{
    auth::{csrf::CsrfToken, login::auth_context, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    notify,
    procedure::{
        delegations,
        documents::{file_generated, FilingError, Generated},
        form,
        integrations::case_link,
        receipt,
        store::{self, file_counts, file_names, office_name, Actor, Case, Document},
        timers,
    },
    registry::{self, Direction},
    state::AppState,
    tenancy::Tenant,
    users,
    web::{render_page, CurrentTenant},
};

/// Submissions wait here, holding no database connection, rather than in the
/// pool: they queue on the ente's registry counter anyway, and a burst of them
/// must not starve every other request of connections.
static SUBMISSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

pub async fn submit(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    session: CurrentSession,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let _permit = SUBMISSIONS.acquire().await.map_err(|e| AppError::Internal(e.into()))?;
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = match super::access::own_draft(&mut tx, id, &session).await? {
        Ok(case) => case,
        Err(redirect) => return Ok(redirect),
    };
    let mut documents = store::documents(&mut tx, id).await?;
    // Files of a field that a later answer hid are not part of the application.
    for hidden in
        documents.iter().filter(|d| d.field_key.as_deref().is_some_and(|k| !case.form.0.is_shown(k, &case.answers.0)))
    {
        store::remove_draft_document(&mut tx, id, hidden.id).await?;
    }
    documents.retain(|d| d.field_key.as_deref().is_none_or(|k| case.form.0.is_shown(k, &case.answers.0)));
    let errors = form::validate_all(&case.form.0, &case.answers.0, &file_counts(&documents));
    if !errors.is_empty() {
        let acting_for = delegations::acting_for(&mut tx, case.delegation_id).await?;
        tx.commit().await?;
        return draft::render_summary(&state, &tenant, &csrf, &case, &documents, acting_for.as_ref(), &errors);
    }
    match submit_case(&state, &tenant.0, &mut tx, &case, &documents, None).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/area-personale/pratiche/{id}?inviata=1")).into_response())
        }
        Err(FilingError::Storage(e)) => {
            drop(tx);
            tracing::warn!(error = ?e, case = %id, "submission stopped: storage unavailable");
            let mut context = auth_context(&tenant, &csrf);
            context.insert("message_title", "cases.storage_down_title");
            context.insert("message_text", "cases.storage_down_text");
            let page = render_page(&state, &tenant.site(), "layout/message.html", &context)?;
            Ok((StatusCode::SERVICE_UNAVAILABLE, page).into_response())
        }
        Err(FilingError::Other(e)) => Err(e),
    }
}

pub struct Submitted {
    pub registry: registry::Entry,
    pub receipt: Document,
}

/// Registers a complete draft, locked by the caller's transaction. `as_of`
/// is `None` but in the demo seeding (see `procedure::Env::as_of`).
pub async fn submit_case(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    documents: &[Document],
    as_of: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Submitted, FilingError> {
    let user = users::by_id(tx, case.user_id).await?.ok_or(AppError::NotFound)?;
    let applicant = user.name_and_fiscal_code();
    let (words, lang) = (state.renderer.catalogues(), tenant.default_lang());
    let acting_for = delegations::acting_for(tx, case.delegation_id).await?.map(|t| words.text(lang, &t));
    // The application itself, machine-readable: the registered document.
    let application = json!({
        "procedure": { "slug": case.procedure_slug, "title": case.procedure_title },
        "case": case.reference,
        "applicant": { "name": format!("{} {}", user.given_name, user.family_name), "fiscal_code": user.fiscal_code },
        "acting_for": acting_for,
        "answers": case.answers.0,
        "documents": documents.iter().map(|d| json!({ "name": d.name, "sha256": d.sha256, "size": d.size })).collect::<Vec<_>>(),
    });
    let bytes = Bytes::from(serde_json::to_vec_pretty(&application).map_err(|e| AppError::Internal(e.into()))?);
    let application =
        file_generated(tx, &state.store, case.id, "submission", "domanda.json", Generated::Json, bytes).await?;
    // The number is taken last, so the counter row stays locked briefly.
    let subject = words.text(
        lang,
        &Text::new("cases.record.submission").with("reference", &case.reference).with("title", &case.procedure_title),
    );
    let entry = registry::register_at(
        tx,
        registry::NewEntry {
            direction: Direction::Incoming,
            correspondent: &applicant,
            subject: &subject,
            document_sha256: Some(&application.sha256),
            case_id: Some(case.id),
        },
        as_of,
    )
    .await?;
    // The case enters its workflow's first status; the legal clock starts.
    let workflow = case.workflow();
    let initial = workflow.status(&workflow.initial).expect("a checked workflow has its initial status");
    let due_date = store::mark_submitted(tx, case.id, &entry, initial.phase.as_str(), &initial.key).await?;
    // The initial status's timers and the overdue alert are armed with the submission.
    timers::arm(tx, &workflow, case.id, &initial.key, entry.registered_at).await?;
    timers::arm_overdue(tx, case.id, due_date).await?;
    let mark = entry.mark(&tenant.profile.ipa_code);
    let office = office_name(tx, &case.office_code).await?;
    let sections: Vec<receipt::ReceiptSection> = form::summary(&case.form.0, &case.answers.0, &file_names(documents))
        .into_iter()
        .map(|s| receipt::ReceiptSection {
            title: s.title,
            rows: s.rows.into_iter().map(|r| (r.label, r.value.text(words, lang))).collect(),
        })
        .collect();
    let receipt_documents: Vec<receipt::ReceiptDocument> = documents
        .iter()
        .map(|d| receipt::ReceiptDocument { name: d.name.clone(), size: d.size as u64, sha256: d.sha256.clone() })
        .collect();
    let pdf = receipt::render(
        &receipt::Receipt {
            ente_name: &tenant.name,
            office: &office,
            procedure_title: &case.procedure_title,
            registry_mark: &mark,
            registered_at: entry.registered_at,
            case_reference: &case.reference,
            applicant: &applicant,
            acting_for: acting_for.as_deref(),
            sections: &sections,
            documents: &receipt_documents,
            legal_deadline: Some(due_date),
        },
        receipt::Words { catalogues: state.renderer.catalogues(), lang: tenant.default_lang() },
    );
    let receipt_name = words.text(lang, &Text::new("cases.record.receipt_file").with("mark", &mark));
    let receipt =
        file_generated(tx, &state.store, case.id, "receipt", &receipt_name, Generated::Pdf, Bytes::from(pdf)).await?;
    // The uploads, the application and the receipt all carry the number.
    store::register_documents(tx, case.id, None, entry.year, entry.number).await?;
    store::add_event_at(
        tx,
        as_of,
        case.id,
        "submitted",
        Actor::Citizen,
        &words.text(lang, &Text::new("cases.record.submitted").with("mark", &mark)),
        json!({ "registry": mark }),
    )
    .await?;
    if let Some(email) = &user.email {
        let mail = |key: &'static str| {
            Text::new(key)
                .with("name", &user.given_name)
                .with("title", &case.procedure_title)
                .with("mark", &mark)
                .with("reference", &case.reference)
                .with("office", &office)
                .with("due", due_date.format("%d/%m/%Y"))
                .with("link", case_link(&state.settings, tenant, case.id))
                .with("ente", &tenant.name)
        };
        let (subject, body) =
            (words.text(lang, &mail("mail.submitted.subject")), words.text(lang, &mail("mail.submitted.body")));
        notify::queue_mail(tx, email, &subject, &body).await?;
    }
    Ok(Submitted { registry: entry, receipt })
}
