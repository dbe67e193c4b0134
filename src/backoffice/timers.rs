//! Work the workflow leaves for later, run by the job queue: a status's timers
//! (a reminder to the office, or a transition the system runs —
//! silence-as-consent) and the overdue alert on the day after the due date.
//! Each job carries what it was armed for; when it runs it does nothing if the
//! case has moved on since (left the status, or got a new due date), so stale
//! jobs are harmless and nothing needs cancelling.

use serde_json::json;
use uuid::Uuid;

use crate::procedure::engine::{self, Operator, TransitionInput};
use crate::{
    db::TenantTx,
    i18n::Text,
    procedure::{
        clock::{self, ClockState},
        messages,
        store::{self, Actor, Case},
        timers::{OverduePayload, TimerPayload, OVERDUE_JOB, TIMER_JOB},
    },
    state::AppState,
    tenancy::Tenant,
    time::format_date,
};

/// The job kinds this module runs (see `startup::job_registry`).
pub fn jobs() -> Vec<(&'static str, crate::jobs::Handler)> {
    vec![
        (TIMER_JOB, |state, tenant, payload| {
            Box::pin(async move { fire_timer(&state, tenant, serde_json::from_value(payload)?).await })
        }),
        (OVERDUE_JOB, |state, tenant, payload| {
            Box::pin(async move { fire_overdue(&state, tenant, serde_json::from_value(payload)?).await })
        }),
    ]
}

/// Runs a timer if the case is still in the stay it was armed for.
pub async fn fire_timer(state: &AppState, tenant_id: Uuid, payload: TimerPayload) -> anyhow::Result<()> {
    let Some(tenant) = state.tenants.by_id(tenant_id).await? else { return Ok(()) };
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let Some(case) = store::case_by_id(&mut tx, payload.case_id, true).await? else { return Ok(()) };
    if !still_in(&case, &payload) {
        return Ok(());
    }
    let workflow = case.workflow();
    let Some(timer) = workflow.timers.get(payload.timer) else { return Ok(()) };
    if let Some(text) = &timer.remind {
        remind_office(state, &tenant, &mut tx, &case, text).await?;
    }
    if let Some(key) = &timer.transition {
        let input = TransitionInput {
            reason: state
                .renderer
                .catalogues()
                .text(tenant.default_lang(), &Text::new("timers.silence_reason").with("days", timer.after_days)),
            due_date: None,
        };
        match engine::run_transition(state.env(), &tenant, &mut tx, &case, key, &Operator::system(), &input).await {
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

async fn remind_office(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case: &Case,
    text: &str,
) -> anyhow::Result<()> {
    let words = |text: Text| state.renderer.catalogues().text(tenant.default_lang(), &text);
    let subject = words(Text::new("timers.reminder_subject").with("reference", &case.reference));
    let body = words(
        Text::new("timers.reminder_mail")
            .with("text", text)
            .with("reference", &case.reference)
            .with("procedure", &case.procedure_title),
    );
    messages::notify_office(tx, &case.office_code, &subject, &body).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    store::add_event(
        tx,
        case.id,
        "internal_reminder",
        Actor::System,
        &words(Text::new("timers.event_reminder")),
        json!({ "text": text }),
    )
    .await?;
    engine::audit(tx, &Operator::system(), "case.reminder", case.id, None, Some(json!({ "text": text }))).await?;
    Ok(())
}

/// The overdue alert: if the case is still open past that same due date.
pub async fn fire_overdue(state: &AppState, tenant_id: Uuid, payload: OverduePayload) -> anyhow::Result<()> {
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let Some(case) = store::case_by_id(&mut tx, payload.case_id, true).await? else { return Ok(()) };
    let clock = clock::clock_of(&mut tx, &case).await?;
    if clock.state != ClockState::Running || clock.due_date != Some(payload.due_date) || !clock.overdue {
        return Ok(());
    }
    let tenant = state.tenants.by_id(tenant_id).await?;
    let lang = tenant.as_deref().map_or(crate::i18n::DEFAULT_LANG, Tenant::default_lang);
    let words = |text: Text| state.renderer.catalogues().text(lang, &text);
    let subject = words(Text::new("timers.overdue_subject").with("reference", &case.reference));
    let body = words(
        Text::new("timers.overdue_mail")
            .with("reference", &case.reference)
            .with("procedure", &case.procedure_title)
            .with("day", format_date(payload.due_date)),
    );
    messages::notify_office(&mut tx, &case.office_code, &subject, &body).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    store::add_event(
        &mut tx,
        case.id,
        "internal_overdue",
        Actor::System,
        &words(Text::new("timers.event_overdue")),
        json!({ "due_date": payload.due_date }),
    )
    .await?;
    let after = json!({ "due_date": payload.due_date });
    engine::audit(&mut tx, &Operator::system(), "case.overdue_alert", case.id, None, Some(after)).await?;
    tx.commit().await?;
    Ok(())
}
