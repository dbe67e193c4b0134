//! Arming the work a workflow leaves for later: a status's timers and the
//! overdue alert, enqueued in the transaction that moves the case. The office
//! side runs them (`backoffice::timers`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::workflow::Workflow;
use crate::db::TenantTx;

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
    let run_at = crate::time::rome_to_utc(morning);
    let payload = json!(OverduePayload { case_id, due_date });
    let key = format!("{case_id}:overdue:{due_date}");
    crate::jobs::enqueue(tx, crate::jobs::NewJob { kind: OVERDUE_JOB, key, payload, run_at: Some(run_at) }).await?;
    Ok(())
}
