//! The case desk: everything about one case for the office, and the actions on it.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    access::{self, CaseToProcess, CaseToRead},
    db as bdb, Operator, Staff,
};
use crate::procedure::engine::{self, Problems, Refusal, TransitionInput};
use crate::procedure::Env;
use crate::{
    auth::{csrf::CsrfToken, login::auth_context},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{
        case_file::{CaseFile, Reader},
        form, messages,
        store::{self, file_names, Actor, Case},
        workflow,
    },
    state::AppState,
    tenancy::Tenant,
    time::rome_local,
    users,
    web::{download, render_page, CurrentTenant},
};

pub async fn page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    Staff(operator): Staff,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    render(&state, &tenant, &csrf, &operator, id, DeskForm::default(), StatusCode::OK).await
}

/// What the desk shows back after a refused action.
#[derive(Default)]
struct DeskForm {
    transition: Option<String>,
    reason: String,
    due_date: String,
    problems: Problems,
}

async fn render(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    operator: &Operator,
    id: Uuid,
    form_back: DeskForm,
    status: StatusCode,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let case = access::load(&mut tx, id, operator, false).await?;
    let workflow = case.workflow();
    let citizen = users::by_id(&mut tx, case.user_id).await?.ok_or(AppError::NotFound)?;
    let file = CaseFile::load(&mut tx, &case, Reader::Office).await?;
    let answers = form::summary(&case.form.0, &case.answers.0, &file_names(&file.documents));
    let notes = bdb::notes(&mut tx, id).await?;
    let tasks = bdb::tasks(&mut tx, id).await?;
    let may_assign = operator.assign_offices.contains(&case.office_code);
    let assignee_name = match case.assignee_id {
        Some(id) => users::by_id(&mut tx, id).await?.map(|u| format!("{} {}", u.given_name, u.family_name)),
        None => None,
    };
    let colleagues = if may_assign { bdb::colleagues(&mut tx).await? } else { Vec::new() };
    let offices = bdb::offices(&mut tx).await?;
    if operator.may_process(&case.office_code) {
        messages::mark_read_by_office(&mut tx, id).await?;
    }
    tx.commit().await?;
    let status_info = case.state.as_deref().and_then(|s| workflow.status(s));
    let transitions: Vec<_> = engine::offered(&case, &workflow, operator)
        .into_iter()
        .map(|t| {
            let waits = workflow.status(&t.to).is_some_and(|s| s.phase == workflow::Phase::AwaitingIntegration);
            json!({ "key": t.key, "label": t.label, "reason": t.reason, "asks_due_date": waits })
        })
        .collect();
    let mut context = auth_context(tenant, csrf);
    context.insert("case", &case);
    context.insert("status_info", &status_info);
    context.insert("registry_mark", &case.registry_mark(&tenant.0.profile.ipa_code));
    context.insert("citizen", &citizen);
    context.insert("answers", &answers);
    context.extend(tera::Context::from_serialize(&file).map_err(anyhow::Error::from)?);
    context.insert("notes", &notes);
    context.insert("tasks", &tasks);
    context.insert("my_offices", &operator.read_offices);
    context.insert("operator", operator);
    let team = super::team_of(state, &tenant.0, colleagues, std::slice::from_ref(&case.office_code)).await?;
    context.insert("colleagues", &team);
    context.insert("may_assign", &may_assign);
    context.insert("assignee_name", &assignee_name.unwrap_or_default());
    context.insert("offices", &offices);
    context.insert("transitions", &transitions);
    context.insert("may_process", &operator.may_process(&case.office_code));
    context.insert("operator", operator);
    context.insert("failed_transition", &form_back.transition);
    context.insert("reason", &form_back.reason);
    context.insert("due_date_value", &form_back.due_date);
    context.insert("problems", &form_back.problems);
    Ok((status, render_page(state, &tenant.site(), "backoffice/case.html", &context)?).into_response())
}

fn back_to(id: Uuid, anchor: &str) -> Response {
    Redirect::to(&format!("/backoffice/pratiche/{id}#{anchor}")).into_response()
}

#[derive(Deserialize)]
pub struct TransitionForm {
    #[serde(default)]
    motivazione: String,
    #[serde(default)]
    scadenza: String,
}

pub async fn transition(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    CaseToProcess { by: Staff(operator), mut tx, case }: CaseToProcess<Staff>,
    Path((id, key)): Path<(Uuid, String)>,
    Form(form): Form<TransitionForm>,
) -> AppResult<Response> {
    let due_date = match form.scadenza.trim() {
        "" => None,
        day => match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                let mut problems = Problems::new();
                problems.insert("scadenza".into(), Text::new("desk.due_date_format"));
                let back =
                    DeskForm { transition: Some(key), reason: form.motivazione, due_date: form.scadenza, problems };
                tx.rollback().await?;
                return render(&state, &tenant, &csrf, &operator, id, back, StatusCode::UNPROCESSABLE_ENTITY).await;
            }
        },
    };
    let input = TransitionInput { reason: form.motivazione.clone(), due_date };
    match engine::run_transition(state.env(), &tenant.0, &mut tx, &case, &key, &operator, &input).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(back_to(id, "stato"))
        }
        Err(refusal) => {
            tx.rollback().await?;
            match refusal {
                Refusal::Invalid(problems) => {
                    let back =
                        DeskForm { transition: Some(key), reason: form.motivazione, due_date: form.scadenza, problems };
                    render(&state, &tenant, &csrf, &operator, id, back, StatusCode::UNPROCESSABLE_ENTITY).await
                }
                other => Err(refusal_error(other)),
            }
        }
    }
}

/// The error for a refusal that is not about the input.
pub fn refusal_error(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::NotAvailable => AppError::Conflict,
        Refusal::NotAllowed => AppError::Forbidden,
        Refusal::Invalid(_) => AppError::BadRequest("invalid transition input"),
        Refusal::Failed(e) => e,
    }
}

#[derive(Deserialize)]
pub struct AssignForm {
    /// A colleague's id, `me`, or empty to unassign.
    #[serde(default)]
    assegnatario: String,
}

pub async fn assign(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    CaseToProcess { by: Staff(operator), mut tx, case }: CaseToProcess<Staff>,
    Form(form): Form<AssignForm>,
) -> AppResult<Response> {
    let who = assignee(&state, &tenant.0, &mut tx, &case, &operator, &form.assegnatario).await?;
    assign_case(state.env(), &tenant.0, &mut tx, &case, &operator, who).await?;
    tx.commit().await?;
    Ok(back_to(case.id, "assegnazione"))
}

/// Whom `who` (`me`, a colleague's id, or empty for nobody) names, if the
/// operator may give them the case. Anyone who works the case may take it or
/// give it back; giving it to someone else, or taking it from them, needs
/// `assign` on its office (office heads), and the colleague must be one who
/// works that office.
pub async fn assignee(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    operator: &Operator,
    who: &str,
) -> AppResult<Option<Uuid>> {
    let may_assign = operator.assign_offices.contains(&case.office_code);
    let someone_else_has_it = case.assignee_id.is_some_and(|a| Some(a) != operator.user_id);
    Ok(match who.trim() {
        "" | "me" if someone_else_has_it && !may_assign => return Err(AppError::Forbidden),
        "" => None,
        "me" => operator.user_id,
        _ if !may_assign => return Err(AppError::Forbidden),
        other => {
            let id = Uuid::parse_str(other).map_err(|_| AppError::BadRequest("assignee is not an id"))?;
            let colleagues: Vec<bdb::Colleague> =
                bdb::colleagues(tx).await?.into_iter().filter(|c| c.id == id).collect();
            let team = super::team_of(state, tenant, colleagues, std::slice::from_ref(&case.office_code)).await?;
            if team.is_empty() {
                return Err(AppError::NotFound);
            }
            Some(id)
        }
    })
}

/// Assigns the case to `assignee` (nobody for `None`), on the timeline and in
/// the audit trail.
pub async fn assign_case(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    operator: &Operator,
    assignee: Option<Uuid>,
) -> AppResult<()> {
    bdb::assign(tx, case.id, assignee).await?;
    let name = match assignee {
        Some(id) => {
            users::by_id(tx, id).await?.map(|u| format!("{} {}", u.given_name, u.family_name)).unwrap_or_default()
        }
        None => String::new(),
    };
    let summary = if name.is_empty() {
        Text::new("desk.event_unassigned")
    } else {
        Text::new("desk.event_assigned").with("name", name)
    };
    let summary = env.catalogues.text(tenant.default_lang(), &summary);
    store::add_event_at(
        tx,
        env.as_of,
        case.id,
        "internal_assigned",
        Actor::Office,
        &summary,
        json!({ "assignee": assignee, "by": operator.label }),
    )
    .await?;
    let (before, after) = (json!({ "assignee": case.assignee_id }), json!({ "assignee": assignee }));
    engine::audit(tx, operator, "case.assign", case.id, Some(before), Some(after)).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct TextForm {
    #[serde(default)]
    testo: String,
}

/// The longest note, message, question or answer an operator may write.
pub const TEXT_MAX_CHARS: usize = 5000;

pub fn checked_text(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty() && text.chars().count() <= TEXT_MAX_CHARS).then_some(text)
}

/// What a refused text is told.
pub fn text_problem() -> Text {
    Text::new("desk.text_required").with("n", TEXT_MAX_CHARS)
}

pub async fn note(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    CaseToRead { by: Staff(operator), mut tx, case }: CaseToRead<Staff>,
    Form(form): Form<TextForm>,
) -> AppResult<Response> {
    let Some(text) = checked_text(&form.testo) else {
        tx.rollback().await?;
        return invalid_text(&state, &tenant, &csrf, &operator, case.id, "nota").await;
    };
    let author = operator.user_id.ok_or(AppError::Forbidden)?;
    let note = bdb::add_note(&mut tx, case.id, author, text).await?;
    engine::audit(&mut tx, &operator, "case.note", case.id, None, Some(json!({ "note": note, "text": text }))).await?;
    tx.commit().await?;
    Ok(back_to(case.id, "note"))
}

async fn invalid_text(
    state: &AppState,
    tenant: &CurrentTenant,
    csrf: &CsrfToken,
    operator: &Operator,
    id: Uuid,
    field: &str,
) -> AppResult<Response> {
    let mut problems = Problems::new();
    problems.insert(field.into(), text_problem());
    let back = DeskForm { problems, ..DeskForm::default() };
    render(state, tenant, csrf, operator, id, back, StatusCode::UNPROCESSABLE_ENTITY).await
}

pub async fn message(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    CaseToProcess { by: Staff(operator), mut tx, case }: CaseToProcess<Staff>,
    Form(form): Form<TextForm>,
) -> AppResult<Response> {
    let Some(text) = checked_text(&form.testo) else {
        tx.rollback().await?;
        return invalid_text(&state, &tenant, &csrf, &operator, case.id, "messaggio").await;
    };
    let message = messages::office_writes(state.env(), &tenant.0, &mut tx, case.id, &operator.label, text).await?;
    engine::audit(&mut tx, &operator, "case.message", case.id, None, Some(json!({ "message": message, "text": text })))
        .await?;
    tx.commit().await?;
    Ok(back_to(case.id, "messaggi"))
}

#[derive(Deserialize)]
pub struct OpinionForm {
    #[serde(default)]
    ufficio: String,
    #[serde(default)]
    testo: String,
}

pub async fn ask_opinion(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    CaseToProcess { by: Staff(operator), mut tx, case }: CaseToProcess<Staff>,
    Form(form): Form<OpinionForm>,
) -> AppResult<Response> {
    let id = case.id;
    let Some(text) = checked_text(&form.testo) else {
        tx.rollback().await?;
        return invalid_text(&state, &tenant, &csrf, &operator, id, "parere").await;
    };
    if !bdb::offices(&mut tx).await?.iter().any(|o| o.code == form.ufficio) || form.ufficio == case.office_code {
        tx.rollback().await?;
        let mut problems = Problems::new();
        problems.insert("ufficio".into(), Text::new("desk.other_office"));
        let back = DeskForm { problems, ..DeskForm::default() };
        return render(&state, &tenant, &csrf, &operator, id, back, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let task =
        engine::add_task(state.env(), &tenant.0, &mut tx, case.id, &form.ufficio, "opinion", text, &operator.label)
            .await?;
    let words = |text: Text| state.renderer.catalogues().text(tenant.0.default_lang(), &text);
    let subject = words(Text::new("desk.opinion_subject").with("reference", &case.reference));
    let body = words(
        Text::new("desk.opinion_mail")
            .with("who", &operator.label)
            .with("reference", &case.reference)
            .with("text", text),
    );
    messages::notify_office(&mut tx, &form.ufficio, &subject, &body).await?;
    let after = json!({ "task": task, "office": form.ufficio, "question": text });
    engine::audit(&mut tx, &operator, "case.opinion_requested", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok(back_to(id, "pareri"))
}

pub async fn answer_task(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    CaseToRead { by: Staff(operator), mut tx, case }: CaseToRead<Staff>,
    Path((id, task)): Path<(Uuid, Uuid)>,
    Form(form): Form<TextForm>,
) -> AppResult<Response> {
    let Some(text) = checked_text(&form.testo) else {
        tx.rollback().await?;
        return invalid_text(&state, &tenant, &csrf, &operator, id, "risposta").await;
    };
    if !bdb::answer_task(&mut tx, case.id, task, &operator.process_offices, text, &operator.label).await? {
        return Err(AppError::NotFound);
    }
    store::add_event(
        &mut tx,
        case.id,
        "internal_answered",
        Actor::Office,
        &state.renderer.catalogues().text(tenant.0.default_lang(), &Text::new("desk.event_opinion_answered")),
        json!({ "task": task }),
    )
    .await?;
    let after = json!({ "task": task, "answer": text });
    engine::audit(&mut tx, &operator, "case.opinion_answered", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok(back_to(id, "pareri"))
}

pub async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    CaseToRead { mut tx, case, .. }: CaseToRead<Staff>,
    Path((_, document_id)): Path<(Uuid, Uuid)>,
) -> AppResult<Response> {
    let document = store::document(&mut tx, case.id, document_id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    download::stream_document(&state, tenant.0.id, &document).await
}

/// Today in Rome (the legal calendar).
pub fn today() -> NaiveDate {
    rome_local(Utc::now()).date()
}
