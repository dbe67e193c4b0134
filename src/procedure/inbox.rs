//! Every message of a person, across their cases and their requests for
//! assistance, newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::TenantTx;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct InboxLine {
    pub created_at: DateTime<Utc>,
    pub sender: String,
    pub author_name: String,
    pub body: String,
    pub read_at: Option<DateTime<Utc>>,
    pub url: String,
    pub about: String,
}

/// The latest 200 messages of the person.
pub async fn of_user(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<Vec<InboxLine>> {
    sqlx::query_as(
        "select m.created_at, m.sender, m.author_name, m.body, m.read_at,
                '/area-personale/pratiche/' || c.id || '#messaggi' as url,
                c.procedure_title || ' (' || c.reference || ')' as about
         from messages m join cases c on c.id = m.case_id
         where c.user_id = $1
         union all
         select m.created_at, m.sender, m.author_name, m.body, m.read_at,
                '/area-personale/assistenza/' || a.id as url, a.subject as about
         from messages m join assistance_requests a on a.id = m.assistance_id
         where a.user_id = $1
         order by created_at desc limit 200",
    )
    .bind(user_id)
    .fetch_all(tx.conn())
    .await
}
