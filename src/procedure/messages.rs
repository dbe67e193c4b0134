//! Messages between the citizen and the office, on a case or an assistance
//! request: the threads, their read marks, and the e-mails that announce them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    integrations::notify_citizen,
    store::{self, Actor},
    Env,
};
use crate::{
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    notify,
    tenancy::Tenant,
};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub assistance_id: Option<Uuid>,
    pub sender: String,
    pub author_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, case_id, assistance_id, sender, author_name, body, created_at, read_at";

pub const MAX_BODY_CHARS: usize = 10_000;

pub enum Thread {
    Case(Uuid),
    Assistance(Uuid),
}

pub async fn insert(
    tx: &mut TenantTx,
    thread: Thread,
    sender: &str,
    author_name: &str,
    body: &str,
) -> sqlx::Result<Uuid> {
    insert_at(tx, None, thread, sender, author_name, body).await
}

/// [`insert`], dated `at` when given (the demo's replayed past: `Env::as_of`).
pub async fn insert_at(
    tx: &mut TenantTx,
    at: Option<DateTime<Utc>>,
    thread: Thread,
    sender: &str,
    author_name: &str,
    body: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    let (case_id, assistance_id) = match thread {
        Thread::Case(c) => (Some(c), None),
        Thread::Assistance(a) => (None, Some(a)),
    };
    sqlx::query(
        "insert into messages (tenant_id, id, case_id, assistance_id, sender, author_name, body, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()))",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(case_id)
    .bind(assistance_id)
    .bind(sender)
    .bind(author_name)
    .bind(body)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

pub async fn of_case(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!("select {COLUMNS} from messages where case_id = $1 order by created_at"))
        .bind(case_id)
        .fetch_all(tx.conn())
        .await
}

pub async fn of_assistance(tx: &mut TenantTx, assistance_id: Uuid) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(&format!("select {COLUMNS} from messages where assistance_id = $1 order by created_at"))
        .bind(assistance_id)
        .fetch_all(tx.conn())
        .await
}

/// The citizen has seen the thread: what the other side wrote is read.
/// Messages from the office, on a case or an assistance request of this
/// person, they have not opened yet.
pub async fn unread_by_citizen(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from messages m
         left join cases c on c.id = m.case_id
         left join assistance_requests a on a.id = m.assistance_id
         where m.sender <> 'citizen' and m.read_at is null and (c.user_id = $1 or a.user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(tx.conn())
    .await
}

pub async fn mark_read_by_citizen(tx: &mut TenantTx, thread: Thread) -> sqlx::Result<()> {
    let (column, id) = match thread {
        Thread::Case(c) => ("case_id", c),
        Thread::Assistance(a) => ("assistance_id", a),
    };
    sqlx::query(&format!(
        "update messages set read_at = now() where {column} = $1 and sender <> 'citizen' and read_at is null"
    ))
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The office opened the case: the citizen's messages on it are read.
pub async fn mark_read_by_office(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update messages set read_at = now() where case_id = $1 and sender = 'citizen' and read_at is null")
        .bind(case_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The office writes to the citizen about a case (the back office calls it).
pub async fn office_writes(
    env: Env<'_>,
    tenant: &Tenant,
    tx: &mut TenantTx,
    case_id: Uuid,
    author_name: &str,
    body: &str,
) -> AppResult<Uuid> {
    let case = store::case_by_id(tx, case_id, false).await?.ok_or(AppError::NotFound)?;
    let id = insert_at(tx, env.as_of, Thread::Case(case_id), "office", author_name, body).await?;
    let summary = env.catalogues.text(tenant.default_lang(), &Text::new("notice.event_office_message"));
    store::add_event_at(tx, env.as_of, case_id, "message", Actor::Office, &summary, json!({ "message": id })).await?;
    notify_citizen(
        env,
        tenant,
        tx,
        &case,
        &Text::new("notice.office_message_subject").with("reference", &case.reference),
        &Text::new("notice.office_message").with("title", &case.procedure_title),
    )
    .await?;
    Ok(id)
}

/// An e-mail to the office's address, when it has one.
pub async fn notify_office(tx: &mut TenantTx, office_code: &str, subject: &str, text: &str) -> AppResult<()> {
    let email: Option<(String,)> = sqlx::query_as("select email from offices where code = $1 and email <> ''")
        .bind(office_code)
        .fetch_optional(tx.conn())
        .await?;
    if let Some((email,)) = email {
        notify::queue_mail(tx, &email, subject, text).await?;
    }
    Ok(())
}
