//! Protocollo informatico: the ente's official register of documents in and out.
//! Numbers are gapless per ente and year and assigned atomically: the counter row
//! is locked and incremented in the transaction that writes the entry, so a
//! transaction that fails takes its number back with it. Entries are immutable
//! (a database trigger refuses any change but a one-time cancellation note, and
//! any deletion).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use serde_json::json;

use crate::{
    audit::{self, Actor, Change},
    db::TenantTx,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
    Internal,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
            Self::Internal => "internal",
        }
    }
}

pub struct NewEntry<'a> {
    pub direction: Direction,
    pub correspondent: &'a str,
    pub subject: &'a str,
    /// SHA-256 (hex) of the main document, when there is one.
    pub document_sha256: Option<&'a str>,
    pub case_id: Option<Uuid>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Entry {
    pub year: i32,
    pub number: i64,
    pub registered_at: DateTime<Utc>,
    pub direction: String,
    pub correspondent: String,
    pub subject: String,
    pub document_sha256: Option<String>,
    pub case_id: Option<Uuid>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
}

impl Entry {
    /// The number as it is written on documents: at least seven digits.
    pub fn formatted_number(&self) -> String {
        format!("{:07}", self.number)
    }

    /// The full registration mark, e.g. `c_v412-2026-0000042`.
    pub fn mark(&self, ipa_code: &str) -> String {
        format!("{ipa_code}-{}-{}", self.year, self.formatted_number())
    }
}

/// Registers a document: the next number of the current year (Italian time).
pub async fn register(tx: &mut TenantTx, entry: NewEntry<'_>) -> sqlx::Result<Entry> {
    register_at(tx, entry, None).await
}

/// [`register`], dated `at` when given: only the demo seeding (`crate::demo`,
/// `dev_pages` only) passes one, replaying an empty register's made-up past in
/// chronological order, so numbers stay gapless and in the order of their dates.
/// The database holds the line: an entry dated other than now, or before the
/// entry before it, is refused unless the ente is marked `demo` (which only the
/// owner role can set, and only `sportello demo seed` does).
pub async fn register_at(tx: &mut TenantTx, entry: NewEntry<'_>, at: Option<DateTime<Utc>>) -> sqlx::Result<Entry> {
    let (year, number): (i32, i64) = sqlx::query_as(
        "insert into registry_counters (tenant_id, year, last_number)
         values ($1, extract(year from coalesce($2, clock_timestamp()) at time zone 'Europe/Rome')::int, 1)
         on conflict (tenant_id, year) do update set last_number = registry_counters.last_number + 1
         returning year, last_number",
    )
    .bind(tx.tenant_id)
    .bind(at)
    .fetch_one(tx.conn())
    .await?;
    sqlx::query_as(
        "insert into registry_entries (tenant_id, year, number, direction, correspondent, subject, document_sha256,
             case_id, registered_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, clock_timestamp()))
         returning year, number, registered_at, direction, correspondent, subject, document_sha256, case_id,
                   cancelled_at, cancellation_reason",
    )
    .bind(tx.tenant_id)
    .bind(year)
    .bind(number)
    .bind(entry.direction.as_str())
    .bind(entry.correspondent)
    .bind(entry.subject)
    .bind(entry.document_sha256)
    .bind(entry.case_id)
    .bind(at)
    .fetch_one(tx.conn())
    .await
}

pub async fn find(tx: &mut TenantTx, year: i32, number: i64) -> sqlx::Result<Option<Entry>> {
    sqlx::query_as(
        "select year, number, registered_at, direction, correspondent, subject, document_sha256, case_id,
                cancelled_at, cancellation_reason
         from registry_entries where year = $1 and number = $2",
    )
    .bind(year)
    .bind(number)
    .fetch_optional(tx.conn())
    .await
}

/// Annotates a cancellation (the entry and its number stay) and records it in
/// the audit trail, in the same transaction. `false` when there is no such entry
/// or it was already cancelled.
pub async fn cancel(tx: &mut TenantTx, actor: &Actor, year: i32, number: i64, reason: &str) -> sqlx::Result<bool> {
    let cancelled_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "update registry_entries set cancelled_at = now(), cancellation_reason = $3
         where year = $1 and number = $2 and cancelled_at is null
         returning cancelled_at",
    )
    .bind(year)
    .bind(number)
    .bind(reason)
    .fetch_optional(tx.conn())
    .await?;
    let Some(cancelled_at) = cancelled_at else { return Ok(false) };
    audit::append(
        tx,
        actor,
        Change {
            action: "registry.cancel",
            object_type: "registry_entry",
            object_id: format!("{year}-{number:07}"),
            before: Some(json!({ "cancelled_at": null, "cancellation_reason": null })),
            after: Some(json!({ "cancelled_at": cancelled_at, "cancellation_reason": reason })),
        },
    )
    .await?;
    Ok(true)
}
