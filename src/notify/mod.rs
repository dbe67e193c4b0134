//! Messages that leave the system (e-mail, SMS). They are written to an outbox in
//! the same transaction as the change that causes them, then delivered right
//! after commit; a failed delivery stays in the outbox with its error, and is
//! retried by the next delivery round for that ente.

pub mod mail;
pub mod pages;
pub mod sms;

use uuid::Uuid;

use crate::{db::TenantTx, state::AppState};

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
    Ok(id)
}

/// Delivers what the ente has pending, in the background (after the commit that
/// queued it). Errors are recorded on the outbox row, never shown to the user.
pub fn deliver_soon(state: &AppState, tenant_id: Uuid, sms_sender: String, mail_from_name: String) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = deliver_pending(&state, tenant_id, &sms_sender, &mail_from_name).await {
            tracing::warn!(error = ?e, %tenant_id, "outbox delivery failed");
        }
    });
}

pub async fn deliver_pending(
    state: &AppState,
    tenant_id: Uuid,
    sms_sender: &str,
    mail_from_name: &str,
) -> anyhow::Result<()> {
    let mut tx = TenantTx::begin(&state.db, tenant_id).await?;
    // Rows being sent by another node are skipped, not sent twice.
    let sms: Vec<(Uuid, String, String)> = sqlx::query_as(
        "select id, recipient, body from sms_outbox where sent_at is null
         order by created_at limit 50 for update skip locked",
    )
    .fetch_all(tx.conn())
    .await?;
    for (id, to, body) in sms {
        if state.sms.is_outbox() {
            continue; // the row is the message
        }
        let outcome = state.sms.send(sms_sender, &to, &body).await;
        record(&mut tx, "sms_outbox", id, outcome).await?;
    }
    let mail: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "select id, recipient, subject, body from mail_outbox where sent_at is null
         order by created_at limit 50 for update skip locked",
    )
    .fetch_all(tx.conn())
    .await?;
    for (id, to, subject, body) in mail {
        if state.mailer.is_outbox() {
            continue;
        }
        let outcome = state.mailer.send(mail_from_name, &to, &subject, &body).await.map(|()| None);
        record(&mut tx, "mail_outbox", id, outcome).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn record(tx: &mut TenantTx, table: &str, id: Uuid, outcome: anyhow::Result<Option<String>>) -> sqlx::Result<()> {
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
        }
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), table, %id, "delivery failed; kept in the outbox");
            sqlx::query(&format!("update {table} set last_error = $2 where id = $1"))
                .bind(id)
                .bind(format!("{e:#}"))
                .execute(tx.conn())
                .await?;
        }
    }
    Ok(())
}
