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
};
use crate::{
    config::Settings,
    db::TenantTx,
    error::{AppError, AppResult},
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
    settings: &Settings,
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
        "insert into integration_requests (tenant_id, id, case_id, reason, due_date, requested_by, clock_effect)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(reason)
    .bind(due_date)
    .bind(requested_by)
    .bind(clock_effect)
    .execute(tx.conn())
    .await?;
    store::add_event(
        tx,
        case_id,
        "integration_requested",
        Actor::Office,
        "L'ufficio ha chiesto un'integrazione",
        json!({ "request": id, "clock": clock_effect }),
    )
    .await?;
    let mut text = format!("l'ufficio chiede di integrare la richiesta \"{}\":\n\n{reason}", case.procedure_title);
    if let Some(day) = due_date {
        text.push_str(&format!("\n\nRispondi entro il {}.", crate::time::format_date(day)));
    }
    let clock_text = match clock {
        ClockEffect::Suspend => "Il termine del procedimento è sospeso fino alla tua risposta.",
        ClockEffect::Interrupt => "Il termine del procedimento ricomincia da capo dalla tua risposta.",
    };
    text.push_str(&format!("\n{clock_text}"));
    notify_citizen(settings, tenant, tx, &case, &format!("Integrazione richiesta — pratica {}", case.reference), &text)
        .await?;
    Ok(id)
}

/// An e-mail to the citizen about their case, queued in the transaction.
pub async fn notify_citizen(
    settings: &Settings,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    subject: &str,
    text: &str,
) -> AppResult<()> {
    let Some(user) = users::by_id(tx, case.user_id).await? else { return Ok(()) };
    if let Some(email) = &user.email {
        let body = format!(
            "Gentile {},\n\n{text}\n\nTrovi la pratica nella tua area personale:\n{}\n\n{}",
            user.given_name,
            case_link(settings, tenant, case.id),
            tenant.name
        );
        notify::queue_mail(tx, email, subject, &body).await?;
    }
    Ok(())
}

pub fn case_link(settings: &Settings, tenant: &Tenant, case_id: Uuid) -> String {
    format!("{}://{}/area-personale/pratiche/{case_id}", settings.public_scheme(), tenant.primary_host)
}
