//! Integration requests: the office asks the citizen for more, the legal clock
//! is suspended or interrupted until the answer (the answer page is the
//! citizen's, `cases::integrations`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    clock::ClockEffect,
    store::{self, Actor, Case},
    Env,
};
use crate::{
    config::Settings,
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    notify,
    tenancy::Tenant,
    users,
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IntegrationRequest {
    pub id: Uuid,
    pub case_id: Uuid,
    pub reason: String,
    pub due_date: Option<NaiveDate>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub answer_registry_year: Option<i32>,
    pub answer_registry_number: Option<i64>,
}

const COLUMNS: &str = "id, case_id, reason, due_date, requested_by, requested_at, answered_at, answer, \
                       answer_registry_year, answer_registry_number";

pub async fn of_case(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<IntegrationRequest>> {
    sqlx::query_as(&format!("select {COLUMNS} from integration_requests where case_id = $1 order by requested_at"))
        .bind(case_id)
        .fetch_all(tx.conn())
        .await
}

pub async fn one(tx: &mut TenantTx, case_id: Uuid, id: Uuid) -> sqlx::Result<Option<IntegrationRequest>> {
    sqlx::query_as(&format!("select {COLUMNS} from integration_requests where case_id = $1 and id = $2 for update"))
        .bind(case_id)
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Records a request of the office and tells the citizen (e-mail queued in
/// this transaction). The status change is the workflow engine's
/// (`backoffice::engine::run_transition`), which calls this.
#[allow(clippy::too_many_arguments)]
pub async fn request_integration(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
    reason: &str,
    due_date: Option<NaiveDate>,
    requested_by: &str,
    clock: ClockEffect,
) -> AppResult<Uuid> {
    let case = store::case_by_id(tx, case_id, true).await?.ok_or(AppError::NotFound)?;
    if case.is_draft() {
        return Err(AppError::NotFound);
    }
    let id = Uuid::new_v4();
    let clock_effect = match clock {
        ClockEffect::Suspend => "suspend",
        ClockEffect::Interrupt => "interrupt",
    };
    sqlx::query(
        "insert into integration_requests (tenant_id, id, case_id, reason, due_date, requested_by, clock_effect,
             requested_at)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()))",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(reason)
    .bind(due_date)
    .bind(requested_by)
    .bind(clock_effect)
    .bind(env.as_of)
    .execute(tx.conn())
    .await?;
    let lang = tenant.default_lang();
    store::add_event_at(
        tx,
        env.as_of,
        case_id,
        "integration_requested",
        Actor::Office,
        &env.catalogues.text(lang, &Text::new("notice.event_integration_requested")),
        json!({ "request": id, "clock": clock_effect }),
    )
    .await?;
    let clock_text = match clock {
        ClockEffect::Suspend => Text::new("notice.integration_clock_suspended"),
        ClockEffect::Interrupt => Text::new("notice.integration_clock_interrupted"),
    };
    let text = Text::new("notice.integration_requested")
        .with("title", &case.procedure_title)
        .with("reason", reason)
        .with_text("clock", clock_text);
    let text = match due_date {
        Some(day) => text.with_text(
            "answer_by",
            Text::new("notice.integration_answer_by").with("day", crate::time::format_date(day)),
        ),
        None => text.with("answer_by", ""),
    };
    let subject = Text::new("notice.integration_subject").with("reference", &case.reference);
    notify_citizen(env, tenant, tx, &case, &subject, &text).await?;
    Ok(id)
}

/// An e-mail to the citizen about their case, queued in the transaction, in
/// the ente's language.
pub async fn notify_citizen(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    subject: &Text,
    text: &Text,
) -> AppResult<()> {
    let Some(user) = users::by_id(tx, case.user_id).await? else { return Ok(()) };
    if let Some(email) = &user.email {
        let lang = tenant.default_lang();
        let body = Text::new("notice.citizen_mail")
            .with("name", &user.given_name)
            .with_text("text", text.clone())
            .with("link", case_link(env.settings, tenant, case.id))
            .with("ente", &tenant.name);
        notify::queue_mail(tx, email, &env.catalogues.text(lang, subject), &env.catalogues.text(lang, &body)).await?;
    }
    Ok(())
}

pub fn case_link(settings: &Settings, tenant: &Tenant, case_id: Uuid) -> String {
    format!("{}://{}/area-personale/pratiche/{case_id}", settings.public_scheme(), tenant.primary_host)
}
