//! The workflow engine: runs a transition on a case for an operator (staff,
//! API token or the system), enters the new status and runs its actions, keeps
//! the legal clock and the timeline. Every function works inside the caller's
//! tenant transaction, so a transition and everything it causes (messages,
//! documents, registrations, jobs) commit together or not at all.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    clock::{self},
    documents::{file_generated, Generated},
    integrations, messages, receipt,
    store::{self, office_name, Actor, Case},
    timers,
    workflow::{Action, Phase, Reason, Status, Transition, Workflow},
    Env,
};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    registry::{self, Direction},
    tenancy::Tenant,
    time::{format_date, rome_local},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorKind {
    Staff,
    Api,
    System,
}

/// Who acts on the back office, with what they may do.
#[derive(Clone, Debug, Serialize)]
pub struct Operator {
    pub kind: OperatorKind,
    /// The staff member's user id.
    pub user_id: Option<Uuid>,
    /// "Mario Rossi", "API gestionale-protocollo", "Sistema".
    pub label: String,
    pub roles: Vec<String>,
    /// Offices whose cases it may read, and those it may work on.
    pub read_offices: Vec<String>,
    pub process_offices: Vec<String>,
    /// Offices whose cases it may assign to someone else (office heads).
    pub assign_offices: Vec<String>,
}

impl Operator {
    pub fn system() -> Self {
        Self {
            kind: OperatorKind::System,
            user_id: None,
            label: "Sistema".into(),
            roles: vec!["system".into()],
            read_offices: Vec::new(),
            process_offices: Vec::new(),
            assign_offices: Vec::new(),
        }
    }

    pub fn may_process(&self, office: &str) -> bool {
        self.kind == OperatorKind::System || self.process_offices.iter().any(|o| o == office)
    }

    pub fn may_run(&self, transition: &Transition) -> bool {
        self.kind == OperatorKind::System || transition.roles.iter().any(|r| self.roles.contains(r))
    }
}

/// What the operator wrote with the transition.
#[derive(Clone, Debug, Default)]
pub struct TransitionInput {
    pub reason: String,
    /// For an integration request: the day the citizen should answer by.
    pub due_date: Option<NaiveDate>,
}

/// Field → message; empty when the input is fine.
pub type Problems = BTreeMap<String, Text>;

/// Why a transition did not run.
#[derive(Debug)]
pub enum Refusal {
    /// Not offered from the case's current status (someone moved it first).
    NotAvailable,
    /// The operator's roles or offices do not allow it.
    NotAllowed,
    /// The input is incomplete; nothing was changed.
    Invalid(Problems),
    /// Anything else (storage down while filing the act, database).
    Failed(AppError),
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Self::Failed(e)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// The transitions `operator` may run on the case now.
pub fn offered<'a>(case: &'a Case, workflow: &'a Workflow, operator: &'a Operator) -> Vec<&'a Transition> {
    let Some(state) = case.state.as_deref() else { return Vec::new() };
    if !operator.may_process(&case.office_code) {
        return Vec::new();
    }
    workflow.from_status(state).filter(|t| operator.may_run(t)).collect()
}

/// The longest reason an operator may write with a transition.
pub const REASON_MAX_CHARS: usize = 5000;

/// Checks the input of a transition without changing anything.
pub fn check_input(
    workflow: &Workflow,
    transition: &Transition,
    input: &TransitionInput,
    today: NaiveDate,
) -> Problems {
    let mut problems = Problems::new();
    let reason = input.reason.trim();
    if transition.reason == Reason::Required && reason.is_empty() {
        problems.insert("motivazione".into(), Text::new("desk.reason_required"));
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        problems.insert("motivazione".into(), Text::new("desk.reason_too_long").with("n", REASON_MAX_CHARS));
    }
    let waits = workflow.status(&transition.to).is_some_and(|s| s.phase == Phase::AwaitingIntegration);
    if waits {
        match input.due_date {
            None => {
                problems.insert("scadenza".into(), Text::new("desk.due_date_required"));
            }
            Some(day) if day <= today => {
                problems.insert("scadenza".into(), Text::new("desk.due_date_past"));
            }
            Some(_) => {}
        }
    }
    problems
}

/// Runs `key` on the case (locked by the caller with `for update`).
pub async fn run_transition(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    key: &str,
    operator: &Operator,
    input: &TransitionInput,
) -> Result<(), Refusal> {
    let workflow = case.workflow();
    let Some(transition) = workflow.transition(key) else { return Err(Refusal::NotAvailable) };
    if !operator.may_process(&case.office_code) || !operator.may_run(transition) {
        return Err(Refusal::NotAllowed);
    }
    if !case.state.as_deref().is_some_and(|s| transition.from.iter().any(|f| f == s)) {
        return Err(Refusal::NotAvailable);
    }
    let problems = check_input(&workflow, transition, input, rome_local(env.now()).date());
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    let target = workflow.status(&transition.to).expect("checked workflow");
    let reason = input.reason.trim();
    if target.phase == Phase::AwaitingIntegration {
        let effect = workflow.clock_on_integration;
        integrations::request_integration(env, tenant, tx, case.id, reason, input.due_date, &operator.label, effect)
            .await?;
    }
    enter_status(env, tenant, tx, case, &workflow, target, Some(transition), operator, reason).await?;
    audit(
        tx,
        operator,
        "case.transition",
        case.id,
        Some(json!({ "state": case.state, "status": case.status })),
        Some(json!({ "state": target.key, "status": target.phase.as_str(), "transition": key, "reason": reason,
                     "due_date": input.due_date })),
    )
    .await?;
    Ok(())
}

/// Moves the case into `target`: status, timeline, clock, the citizen told,
/// the status's actions run.
#[allow(clippy::too_many_arguments)]
async fn enter_status(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    workflow: &Workflow,
    target: &Status,
    transition: Option<&Transition>,
    operator: &Operator,
    reason: &str,
) -> AppResult<()> {
    let from = case.state.clone().unwrap_or_default();
    let was_final = workflow.status(&from).is_some_and(|s| s.is_final);
    let entered_at: chrono::DateTime<Utc> = sqlx::query_scalar(
        "update cases set state = $2, status = $3, state_since = coalesce($4, clock_timestamp()), updated_at = now()
         where id = $1 returning state_since",
    )
    .bind(case.id)
    .bind(&target.key)
    .bind(target.phase.as_str())
    .bind(env.as_of)
    .fetch_one(tx.conn())
    .await?;
    let actor = if operator.kind == OperatorKind::System { Actor::System } else { Actor::Office };
    let summary = if !reason.is_empty() && target.phase != Phase::AwaitingIntegration {
        Text::new("desk.event_status_with_reason").with("reason", reason)
    } else {
        Text::new("desk.event_status")
    };
    let summary = env.catalogues.text(tenant.default_lang(), &summary.with("status", &target.label));
    store::add_event_at(
        tx,
        env.as_of,
        case.id,
        "status_changed",
        actor,
        &summary,
        json!({
            "from": from, "to": target.key, "transition": transition.map(|t| t.key.clone()),
            "final": target.is_final, "reopen": was_final && !target.is_final,
            "by": operator.label, "reason": reason,
        }),
    )
    .await?;
    clock::refresh_due_date(tx, case.id).await?;
    if target.phase != Phase::AwaitingIntegration {
        // The integration request tells the citizen itself, with its reason.
        let text = if reason.is_empty() {
            Text::new("notice.status_changed")
        } else {
            Text::new("notice.status_changed_with_reason").with("reason", reason)
        };
        let text = text.with("title", &case.procedure_title).with("status", &target.label);
        let subject =
            Text::new("notice.status_subject").with("status", &target.label).with("reference", &case.reference);
        integrations::notify_citizen(env, tenant, tx, case, &subject, &text).await?;
    }
    for action in &target.on_enter {
        run_action(env, tenant, tx, case, workflow, action, operator, reason, &target.key, entered_at).await?;
    }
    timers::arm(tx, workflow, case.id, &target.key, entered_at).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run_action(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    workflow: &Workflow,
    action: &Action,
    operator: &Operator,
    reason: &str,
    status: &str,
    entered_at: chrono::DateTime<Utc>,
) -> AppResult<()> {
    match action {
        Action::NotifyCitizen(text) => {
            messages::office_writes(env, tenant, tx, case.id, &tenant.name, text).await?;
        }
        Action::GenerateDocument(key) => {
            let template = workflow.document(key).expect("checked workflow");
            issue_document(env, tenant, tx, case, &template.title, &template.body, reason).await?;
        }
        Action::Webhook(url) => {
            queue_webhook(env, tenant, tx, case, url, status, entered_at).await?;
        }
        Action::Task { office, text } => {
            add_task(env, tenant, tx, case.id, office, "task", text, &operator.label).await?;
        }
    }
    Ok(())
}

/// The citizen answered every pending request: the case goes where its
/// waiting status says, and the clock resumes (or restarts).
pub async fn resume_after_integration(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
) -> AppResult<()> {
    let case = store::case_by_id(tx, case_id, true).await?.ok_or(AppError::NotFound)?;
    let workflow = case.workflow();
    let Some(current) = case.state.as_deref().and_then(|s| workflow.status(s)) else { return Ok(()) };
    let Some(resume_to) = current.resume_to.as_deref().and_then(|s| workflow.status(s)) else {
        // Closed meanwhile by the office: the answer is filed, nothing moves.
        return clock::refresh_due_date(tx, case_id).await.map_err(Into::into);
    };
    enter_status(env, tenant, tx, &case, &workflow, resume_to, None, &Operator::system(), "").await?;
    audit(
        tx,
        &Operator::system(),
        "case.resume",
        case.id,
        Some(json!({ "state": case.state, "status": case.status })),
        Some(json!({ "state": resume_to.key, "status": resume_to.phase.as_str() })),
    )
    .await?;
    Ok(())
}

/// Generates the act from the template, stores it, registers it (outgoing)
/// and files it in the case with the registry number.
async fn issue_document(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    title: &str,
    template: &str,
    reason: &str,
) -> AppResult<()> {
    let citizen = crate::users::by_id(tx, case.user_id).await?.map(|u| u.name_and_fiscal_code()).unwrap_or_default();
    let mark = case.registry_mark(&tenant.profile.ipa_code).unwrap_or_default();
    let submitted_on = case.submitted_at.map(|t| format_date(rome_local(t).date())).unwrap_or_default();
    let now = env.now();
    let mut context = tera::Context::new();
    context.insert(
        "case",
        &json!({ "reference": case.reference, "procedure_title": case.procedure_title, "mark": mark,
                 "submitted_on": submitted_on, "office": case.office_code }),
    );
    context.insert("citizen", &citizen);
    context.insert("reason", reason);
    context.insert("ente", &tenant.name);
    context.insert("today", &format_date(rome_local(now).date()));
    let body = tera::Tera::one_off(template, &context, false)?;
    let office = office_name(tx, &case.office_code).await?;
    let pdf = receipt::render_act(
        &receipt::Act {
            ente_name: &tenant.name,
            office: &office,
            title,
            case_reference: &case.reference,
            body: &body,
            issued_at: now,
        },
        receipt::Words { catalogues: env.catalogues, lang: tenant.default_lang() },
    );
    let name = format!("{}-{}.pdf", slug_of(title), case.reference);
    let act = file_generated(tx, env.store, case.id, "office", &name, Generated::Pdf, Bytes::from(pdf)).await?;
    let entry = registry::register_at(
        tx,
        registry::NewEntry {
            direction: Direction::Outgoing,
            correspondent: &citizen,
            subject: &env.catalogues.text(
                tenant.default_lang(),
                &Text::new("act.registry_subject")
                    .with("title", title)
                    .with("reference", &case.reference)
                    .with("procedure", &case.procedure_title),
            ),
            document_sha256: Some(&act.sha256),
            case_id: Some(case.id),
        },
        env.as_of,
    )
    .await?;
    sqlx::query(
        "update case_documents set registry_year = $3, registry_number = $4
         where case_id = $1 and sha256 = $2 and origin = 'office' and registry_number is null",
    )
    .bind(case.id)
    .bind(&act.sha256)
    .bind(entry.year)
    .bind(entry.number)
    .execute(tx.conn())
    .await?;
    store::add_event_at(
        tx,
        env.as_of,
        case.id,
        "document_issued",
        Actor::Office,
        &env.catalogues.text(
            tenant.default_lang(),
            &Text::new("act.event_issued").with("title", title).with("mark", entry.mark(&tenant.profile.ipa_code)),
        ),
        json!({ "sha256": act.sha256, "registry": entry.mark(&tenant.profile.ipa_code) }),
    )
    .await?;
    Ok(())
}

fn slug_of(title: &str) -> String {
    let slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        "atto".into()
    } else {
        slug
    }
}

/// A POST of the case's summary to the workflow's URL, through the job queue
/// (retried with backoff; the key lets the receiver drop repeats). The URL may
/// be long and carry a token: the key and the event name it by digest and host.
async fn queue_webhook(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    url: &str,
    status: &str,
    entered_at: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let key =
        format!("{}:{status}:{}:{}", case.id, entered_at.timestamp_micros(), crate::jobs::webhook::url_digest(url));
    let body = json!({
        "event": "status_changed", "case": case.id, "reference": case.reference, "procedure": case.procedure_slug,
        "status": status, "at": entered_at, "registry": { "year": case.registry_year, "number": case.registry_number },
    });
    crate::jobs::enqueue(tx, crate::jobs::webhook::job(url, body, &key)).await?;
    let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    store::add_event(
        tx,
        case.id,
        "internal_webhook",
        Actor::System,
        &env.catalogues.text(tenant.default_lang(), &Text::new("desk.event_webhook").with("host", host)),
        json!({ "key": key }),
    )
    .await?;
    Ok(())
}

/// Work asked of an office on the case.
#[allow(clippy::too_many_arguments)]
pub async fn add_task(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
    office: &str,
    kind: &str,
    question: &str,
    requested_by: &str,
) -> AppResult<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into case_tasks (tenant_id, id, case_id, office_code, kind, question, requested_by, requested_at)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()))",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(office)
    .bind(kind)
    .bind(question)
    .bind(requested_by)
    .bind(env.as_of)
    .execute(tx.conn())
    .await?;
    let summary =
        Text::new(if kind == "opinion" { "desk.event_opinion_requested" } else { "desk.event_task_assigned" });
    let summary = env.catalogues.text(tenant.default_lang(), &summary);
    // Internal: the citizen's timeline hides office-only kinds.
    store::add_event_at(
        tx,
        env.as_of,
        case_id,
        &format!("internal_{kind}"),
        Actor::Office,
        &summary,
        json!({ "task": id, "office": office }),
    )
    .await?;
    Ok(id)
}

/// Appends an operator's (or the system's) action on a case to the ente's
/// hash-chained audit trail. Called last in the transaction: it holds the
/// ente's audit lock until commit (see docs/AUDIT.md).
pub async fn audit(
    tx: &mut TenantTx,
    operator: &Operator,
    action: &str,
    case_id: uuid::Uuid,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> sqlx::Result<i64> {
    use crate::audit::{Actor, ActorKind, Change};
    let actor = match operator.kind {
        OperatorKind::Staff => Actor { kind: ActorKind::Staff, id: operator.user_id, label: operator.label.clone() },
        OperatorKind::Api => Actor { kind: ActorKind::Api, id: None, label: operator.label.clone() },
        OperatorKind::System => Actor::system(&operator.label),
    };
    crate::audit::append(
        tx,
        &actor,
        Change { action, object_type: "case", object_id: case_id.to_string(), before, after },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogues;

    #[test]
    fn refused_input_is_told_field_by_field() {
        let (workflow, words) = (Workflow::standard(), Catalogues::for_tests());
        let today = NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let ask = workflow.transition("richiedi_integrazione").unwrap();
        let it = |p: &Problems, field: &str| words.text("it", &p[field]);

        let problems = check_input(&workflow, ask, &TransitionInput::default(), today);
        assert_eq!(it(&problems, "motivazione"), "Scrivi la motivazione: è obbligatoria per questa azione.");
        assert_eq!(it(&problems, "scadenza"), "Indica entro quando il cittadino deve rispondere.");

        let input = TransitionInput { reason: "x".repeat(5001), due_date: Some(today) };
        let problems = check_input(&workflow, ask, &input, today);
        assert_eq!(it(&problems, "motivazione"), "La motivazione può contenere al massimo 5000 caratteri.");
        assert_eq!(it(&problems, "scadenza"), "La scadenza deve essere una data futura.");
        assert_eq!(words.text("en", &problems["scadenza"]), "The deadline must be a future date.");

        let input = TransitionInput { reason: "Manca la visura.".into(), due_date: today.succ_opt() };
        assert!(check_input(&workflow, ask, &input, today).is_empty());
    }
}
