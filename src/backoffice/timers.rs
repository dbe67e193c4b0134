//! Work the workflow leaves for later, run by the job queue: a status's timers
//! (a reminder to the office, or a transition the system runs —
//! silence-as-consent) and the overdue alert on the day after the due date.
//! Each job carries what it was armed for; when it runs it does nothing if the
//! case has moved on since (left the status, or got a new due date), so stale
//! jobs are harmless and nothing needs cancelling.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::{
    engine::{self, Operator, TransitionInput},
    workflow::Workflow,
};
use crate::{
    cases::{
        db::{self as cdb, Actor, Case},
        messages,
    },
    db::TenantTx,
    state::AppState,
    web::time::format_date,
};

pub const TIMER_JOB: &str = "workflow.timer";
pub const OVERDUE_JOB: &str = "workflow.overdue";

/// A status's timer, armed when the case entered it.
#[derive(Debug, Serialize, Deserialize)]
pub struct TimerPayload {
    pub case_id: Uuid,
    pub status: String,
    /// When the case entered the status: identifies this stay in it.
    pub entered_at: DateTime<Utc>,
    /// Index of the timer in the workflow's `timers`.
    pub timer: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OverduePayload {
    pub case_id: Uuid,
    pub due_date: NaiveDate,
}

/// The timer jobs to arm for a case entering `status` at `entered_at`:
/// (idempotency key, payload, when).
pub fn timers_for(
    workflow: &Workflow,
    case_id: Uuid,
    status: &str,
    entered_at: DateTime<Utc>,
) -> Vec<(String, serde_json::Value, DateTime<Utc>)> {
    workflow
        .timers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status == status)
        .map(|(i, t)| {
            let payload = TimerPayload { case_id, status: status.to_string(), entered_at, timer: i };
            let key = format!("{case_id}:{status}:{}:{i}", entered_at.timestamp_micros());
            (key, json!(payload), entered_at + Duration::days(t.after_days.into()))
        })
        .collect()
}

/// Arms the status's timers for a case that just entered it (same transaction).
pub async fn arm(
    tx: &mut TenantTx,
    workflow: &Workflow,
    case_id: Uuid,
    status: &str,
    entered_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    for (key, payload, run_at) in timers_for(workflow, case_id, status, entered_at) {
        crate::jobs::enqueue(tx, crate::jobs::NewJob { kind: TIMER_JOB, key, payload, run_at: Some(run_at) }).await?;
    }
    Ok(())
}

/// Arms the overdue alert for the morning after `due_date` (Rome), once per due date.
pub async fn arm_overdue(tx: &mut TenantTx, case_id: Uuid, due_date: NaiveDate) -> sqlx::Result<()> {
    let morning = (due_date + Duration::days(1)).and_hms_opt(8, 0, 0).expect("08:00 exists");
    let run_at = crate::web::time::rome_to_utc(morning);
    let payload = json!(OverduePayload { case_id, due_date });
    let key = format!("{case_id}:overdue:{due_date}");
    crate::jobs::enqueue(tx, crate::jobs::NewJob { kind: OVERDUE_JOB, key, payload, run_at: Some(run_at) }).await?;
    Ok(())
}

/// Runs a timer if the case is still in the stay it was armed for.
pub async fn fire_timer(state: &AppState, tenant_id: Uuid, payload: TimerPayload) -> anyhow::Result<()> {
    let Some(tenant) = state.tenants.by_id(tenant_id).await? else { return Ok(()) };
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let Some(case) = cdb::case_by_id(&mut tx, payload.case_id, true).await? else { return Ok(()) };
    if !still_in(&case, &payload) {
        return Ok(());
    }
    let workflow = case.workflow();
    let Some(timer) = workflow.timers.get(payload.timer) else { return Ok(()) };
    if let Some(text) = &timer.remind {
        remind_office(&mut tx, &case, text).await?;
    }
    if let Some(key) = &timer.transition {
        let input = TransitionInput {
            reason: format!("Decorsi {} giorni senza provvedimento.", timer.after_days),
            due_date: None,
        };
        match engine::run_transition(state, &tenant, &mut tx, &case, key, &Operator::system(), &input).await {
            Ok(()) => {}
            Err(engine::Refusal::Failed(e)) => return Err(anyhow::anyhow!("timer transition failed: {e}")),
            // The workflow no longer offers it from here: nothing to do.
            Err(_) => return Ok(()),
        }
    }
    tx.commit().await?;
    Ok(())
}

fn still_in(case: &Case, payload: &TimerPayload) -> bool {
    case.state.as_deref() == Some(payload.status.as_str())
        && case.state_since.is_some_and(|t| t.timestamp_micros() == payload.entered_at.timestamp_micros())
}

async fn remind_office(tx: &mut TenantTx, case: &Case, text: &str) -> anyhow::Result<()> {
    let subject = format!("Promemoria — pratica {}", case.reference);
    let body = format!("{text}\n\nPratica {} — {}", case.reference, case.procedure_title);
    messages::notify_office(tx, &case.office_code, &subject, &body).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    cdb::add_event(
        tx,
        case.id,
        "internal_reminder",
        Actor::System,
        "Promemoria inviato all'ufficio",
        json!({ "text": text }),
    )
    .await?;
    super::audit(tx, &Operator::system(), "case.reminder", case.id, None, Some(json!({ "text": text }))).await?;
    Ok(())
}

/// The overdue alert: if the case is still open past that same due date.
pub async fn fire_overdue(state: &AppState, tenant_id: Uuid, payload: OverduePayload) -> anyhow::Result<()> {
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let Some(case) = cdb::case_by_id(&mut tx, payload.case_id, true).await? else { return Ok(()) };
    let clock = engine::clock_of(&mut tx, &case).await?;
    if clock.state != super::clock::ClockState::Running || clock.due_date != Some(payload.due_date) || !clock.overdue {
        return Ok(());
    }
    let subject = format!("Termine scaduto — pratica {}", case.reference);
    let body = format!(
        "Il termine di conclusione della pratica {} ({}) è scaduto il {}.",
        case.reference,
        case.procedure_title,
        format_date(payload.due_date)
    );
    messages::notify_office(&mut tx, &case.office_code, &subject, &body).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    cdb::add_event(
        &mut tx,
        case.id,
        "internal_overdue",
        Actor::System,
        "Termine scaduto: avviso all'ufficio",
        json!({ "due_date": payload.due_date }),
    )
    .await?;
    let after = json!({ "due_date": payload.due_date });
    super::audit(&mut tx, &Operator::system(), "case.overdue_alert", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok(())
}
