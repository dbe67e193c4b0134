//! Messages that leave the system (e-mail, SMS). The outbox row is the message;
//! it is written in the same transaction as the change that causes it, together
//! with the background job that delivers it (`crate::jobs`, kinds `mail` and
//! `sms`). A failed delivery keeps its error on the row and is retried by the job
//! system with backoff; a delivered row is never sent again.

pub mod mail;
pub mod sms;

use anyhow::Context;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    jobs::{self, NewJob},
    state::AppState,
};

/// A message of an outbox, as the development outbox pages show it.
#[derive(Debug, serde::Serialize, sqlx::FromRow)]
pub struct OutboxMessage {
    pub recipient: String,
    pub subject: Option<String>,
    pub body: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Which outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    Mail,
    Sms,
}

/// The latest 50 messages of an outbox, newest first.
pub async fn latest(tx: &mut TenantTx, outbox: Outbox) -> sqlx::Result<Vec<OutboxMessage>> {
    let sql = match outbox {
        Outbox::Sms => {
            "select recipient, null::text as subject, body, created_at from sms_outbox order by created_at desc limit 50"
        }
        Outbox::Mail => "select recipient, subject, body, created_at from mail_outbox order by created_at desc limit 50",
    };
    sqlx::query_as(sql).fetch_all(tx.conn()).await
}

/// Job kinds of the two outboxes (see `jobs::registry`).
pub const MAIL_JOB: &str = "mail";
pub const SMS_JOB: &str = "sms";

/// The job kinds this module runs (see `startup::job_registry`).
pub fn jobs() -> Vec<(&'static str, crate::jobs::Handler)> {
    vec![
        (MAIL_JOB, |state, tenant, payload| Box::pin(async move { deliver_mail(&state, tenant, payload).await })),
        (SMS_JOB, |state, tenant, payload| Box::pin(async move { deliver_sms(&state, tenant, payload).await })),
    ]
}

pub async fn queue_mail(tx: &mut TenantTx, to: &str, subject: &str, body: &str) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("insert into mail_outbox (tenant_id, id, recipient, subject, body) values ($1, $2, $3, $4, $5)")
        .bind(tx.tenant_id)
        .bind(id)
        .bind(to)
        .bind(subject)
        .bind(body)
        .execute(tx.conn())
        .await?;
    jobs::enqueue(tx, delivery_job(MAIL_JOB, id)).await?;
    Ok(id)
}

pub async fn queue_sms(tx: &mut TenantTx, to: &str, body: &str) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("insert into sms_outbox (tenant_id, id, recipient, body) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id)
        .bind(id)
        .bind(to)
        .bind(body)
        .execute(tx.conn())
        .await?;
    jobs::enqueue(tx, delivery_job(SMS_JOB, id)).await?;
    Ok(id)
}

/// The outbox row's id is the job's idempotency key: one delivery per message.
fn delivery_job(kind: &'static str, id: Uuid) -> NewJob {
    NewJob { kind, key: id.to_string(), payload: serde_json::json!({ "outbox_id": id }), run_at: None }
}

fn outbox_id(payload: &serde_json::Value) -> anyhow::Result<Uuid> {
    serde_json::from_value(payload["outbox_id"].clone()).context("payload without outbox_id")
}

/// The `mail` job: sends one `mail_outbox` row over SMTP, once. The row is locked
/// while it is sent, so two workers never send it at the same time; a row already
/// sent (or gone with its account) is done. With no SMTP server configured the row
/// stays as it is: it is the message (the development outbox).
pub async fn deliver_mail(state: &AppState, tenant_id: Uuid, payload: serde_json::Value) -> anyhow::Result<()> {
    let id = outbox_id(&payload)?;
    if state.mailer.is_outbox() {
        return Ok(());
    }
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let row: Option<(String, String, String, bool)> = sqlx::query_as(
        "select recipient, subject, body, sent_at is not null from mail_outbox where id = $1 for update",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    let Some((to, subject, body, sent)) = row else { return Ok(()) };
    if sent {
        return Ok(());
    }
    let (from_name, _) = sender_names(&mut tx).await?;
    let outcome = state.mailer.send(&from_name, &to, &subject, &body, state.mailer.message_id(id)).await;
    record(tx, "mail_outbox", id, outcome.map(|()| None)).await
}

/// The `sms` job: one `sms_outbox` row through the gateway, as `deliver_mail`.
pub async fn deliver_sms(state: &AppState, tenant_id: Uuid, payload: serde_json::Value) -> anyhow::Result<()> {
    let id = outbox_id(&payload)?;
    if state.sms.is_outbox() {
        return Ok(());
    }
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    let row: Option<(String, String, bool)> =
        sqlx::query_as("select recipient, body, sent_at is not null from sms_outbox where id = $1 for update")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let Some((to, body, sent)) = row else { return Ok(()) };
    if sent {
        return Ok(());
    }
    let (_, sms_sender) = sender_names(&mut tx).await?;
    let outcome = state.sms.send(&sms_sender, &to, &body).await;
    record(tx, "sms_outbox", id, outcome).await
}

/// The ente's name (e-mail sender name) and SMS sender.
async fn sender_names(tx: &mut TenantTx) -> sqlx::Result<(String, String)> {
    sqlx::query_as("select name, coalesce(auth->>'sms_sender', 'Comune') from tenants where id = $1")
        .bind(tx.tenant_id)
        .fetch_one(tx.conn())
        .await
}

/// Marks the row sent, or keeps the error on it (and hands it to the job system,
/// which retries with backoff). The error text is the gateway's or the SMTP
/// server's answer: the URL with credentials is never part of it.
async fn record(
    mut tx: TenantTx,
    table: &str,
    id: Uuid,
    outcome: anyhow::Result<Option<String>>,
) -> anyhow::Result<()> {
    match outcome {
        Ok(reference) => {
            // Once a real gateway has the SMS, its code need not sit in our database.
            let column = if table == "sms_outbox" {
                ", provider_ref = $2, body = regexp_replace(body, '[0-9]{6}', '******', 'g')"
            } else {
                ""
            };
            let sql = format!("update {table} set sent_at = now(), last_error = null{column} where id = $1");
            let query = sqlx::query(&sql).bind(id);
            let query = if table == "sms_outbox" { query.bind(reference) } else { query };
            query.execute(tx.conn()).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            sqlx::query(&format!("update {table} set last_error = $2 where id = $1"))
                .bind(id)
                .bind(format!("{e:#}"))
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
            Err(e.context(format!("{table} {id}: delivery failed, kept in the outbox")))
        }
    }
}
