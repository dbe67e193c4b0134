//! Cases SQL. Every function takes the tenant scope; row-level security keeps
//! other enti out, and the citizen's own cases are picked by `user_id` here.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::form::{Answers, FormSpec};
use super::{status::CaseStatus, workflow::Workflow};
use crate::db::TenantTx;
use crate::error::AppError;
use crate::fascicolo::{Store, StoreError};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Case {
    pub id: Uuid,
    pub reference: String,
    pub user_id: Uuid,
    pub delegation_id: Option<Uuid>,
    pub procedure_slug: String,
    pub procedure_title: String,
    pub office_code: String,
    #[serde(skip)]
    pub form: Json<FormSpec>,
    pub time_limit_days: i32,
    #[serde(skip)]
    pub answers: Json<Answers>,
    pub step: i32,
    pub status: CaseStatus,
    pub registry_year: Option<i32>,
    pub registry_number: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub due_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub workflow: Option<Json<Workflow>>,
    /// The workflow status (none for a draft).
    pub state: Option<String>,
    pub state_since: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
}

impl Case {
    /// The workflow the case was started with.
    pub fn workflow(&self) -> Workflow {
        self.workflow.as_ref().map(|w| w.0.clone()).unwrap_or_else(Workflow::standard)
    }

    pub fn is_draft(&self) -> bool {
        self.status == CaseStatus::Draft
    }

    pub fn registry_mark(&self, ipa_code: &str) -> Option<String> {
        Some(format!("{ipa_code}-{}-{:07}", self.registry_year?, self.registry_number?))
    }
}

const CASE_COLUMNS: &str = "id, reference, user_id, delegation_id, procedure_slug, procedure_title, office_code, form, \
     time_limit_days, answers, step, status, registry_year, registry_number, submitted_at, due_date, created_at, updated_at, \
     workflow, state, state_since, assignee_id";

/// What a case copies from its procedure when it starts.
#[derive(sqlx::FromRow)]
pub struct ProcedureTerms {
    pub slug: String,
    pub title: String,
    pub office_code: String,
    pub time_limit_days: i32,
    pub min_level: i16,
    pub online: bool,
    pub form: Option<Json<FormSpec>>,
    pub workflow: Option<Json<Workflow>>,
    /// The revision a case started now is on.
    pub revision: i32,
}

pub async fn procedure_terms(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<ProcedureTerms>> {
    sqlx::query_as(
        "select slug, title, office_code, time_limit_days, min_level, online, form, workflow, revision
         from procedures where slug = $1 and published",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await
}

pub struct NewDraft<'a> {
    pub user_id: Uuid,
    pub delegation_id: Option<Uuid>,
    pub procedure: &'a ProcedureTerms,
    pub form: &'a FormSpec,
    pub answers: &'a Answers,
}

pub async fn create_draft(tx: &mut TenantTx, new: NewDraft<'_>) -> sqlx::Result<Case> {
    let id = Uuid::new_v4();
    sqlx::query_as(&format!(
        "insert into cases (tenant_id, id, reference, user_id, delegation_id, procedure_slug, procedure_title,
             office_code, form, time_limit_days, answers, workflow, revision)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         returning {CASE_COLUMNS}"
    ))
    .bind(tx.tenant_id)
    .bind(id)
    .bind(reference_for(id))
    .bind(new.user_id)
    .bind(new.delegation_id)
    .bind(&new.procedure.slug)
    .bind(&new.procedure.title)
    .bind(&new.procedure.office_code)
    .bind(Json(new.form))
    .bind(new.procedure.time_limit_days)
    .bind(Json(new.answers))
    .bind(Json(new.procedure.workflow.as_ref().map(|w| w.0.clone()).unwrap_or_else(Workflow::standard)))
    .bind(new.procedure.revision)
    .fetch_one(tx.conn())
    .await
}

/// `PR-` and ten characters of the id in Crockford base32: short enough to
/// read over the phone, unique per ente by constraint.
fn reference_for(id: Uuid) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = u64::from_be_bytes(id.as_bytes()[..8].try_into().expect("8 bytes"));
    let code: String = (0..10).map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char).collect();
    format!("PR-{code}")
}

/// A case of this user; `None` for anybody else's (the caller answers 404).
/// `for_update` locks it for the rest of the transaction.
pub async fn case_of_user(tx: &mut TenantTx, id: Uuid, user_id: Uuid, for_update: bool) -> sqlx::Result<Option<Case>> {
    let lock = if for_update { " for update" } else { "" };
    sqlx::query_as(&format!("select {CASE_COLUMNS} from cases where id = $1 and user_id = $2{lock}"))
        .bind(id)
        .bind(user_id)
        .fetch_optional(tx.conn())
        .await
}

/// Any case of the ente (the office's side).
pub async fn case_by_id(tx: &mut TenantTx, id: Uuid, for_update: bool) -> sqlx::Result<Option<Case>> {
    let lock = if for_update { " for update" } else { "" };
    sqlx::query_as(&format!("select {CASE_COLUMNS} from cases where id = $1{lock}"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// A line of the citizen's list of cases.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct CaseCard {
    pub id: Uuid,
    pub reference: String,
    pub procedure_title: String,
    pub status: CaseStatus,
    pub office_name: String,
    pub registry_year: Option<i32>,
    pub registry_number: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub due_date: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
    pub pending_requests: i64,
    pub unread_messages: i64,
    pub acting_for: Option<String>,
}

pub async fn cases_of_user(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<Vec<CaseCard>> {
    sqlx::query_as(
        "select c.id, c.reference, c.procedure_title, c.status, coalesce(o.name, c.office_code) as office_name,
                c.registry_year, c.registry_number, c.submitted_at, c.due_date, c.updated_at,
                (select count(*) from integration_requests r where r.case_id = c.id and r.answered_at is null)
                    as pending_requests,
                (select count(*) from messages m where m.case_id = c.id and m.sender <> 'citizen' and m.read_at is null)
                    as unread_messages,
                d.represented_name as acting_for
         from cases c
         left join offices o on o.code = c.office_code
         left join delegations d on d.id = c.delegation_id
         where c.user_id = $1
         order by c.updated_at desc",
    )
    .bind(user_id)
    .fetch_all(tx.conn())
    .await
}

/// How many cases `user_id` has submitted (every case but drafts).
pub async fn submitted_count_of_user(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from cases where user_id = $1 and status <> 'draft'")
        .bind(user_id)
        .fetch_one(tx.conn())
        .await
}

/// The ids of every case of `user_id`.
pub async fn case_ids_of_user(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("select id from cases where user_id = $1").bind(user_id).fetch_all(tx.conn()).await
}

pub async fn save_answers(tx: &mut TenantTx, id: Uuid, answers: &Answers, step: i32) -> sqlx::Result<()> {
    sqlx::query("update cases set answers = $2, step = greatest(step, $3), updated_at = now() where id = $1")
        .bind(id)
        .bind(Json(answers))
        .bind(step)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn delete_draft(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("delete from case_documents where case_id = $1").bind(id).execute(tx.conn()).await?;
    // The draft's events go with it through the foreign key's cascade: the
    // runtime role itself cannot delete an event (the timeline is append-only).
    sqlx::query("delete from cases where id = $1 and status = 'draft'").bind(id).execute(tx.conn()).await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Citizen,
    Office,
    System,
}

impl Actor {
    fn as_str(self) -> &'static str {
        match self {
            Self::Citizen => "citizen",
            Self::Office => "office",
            Self::System => "system",
        }
    }
}

/// Appends to the case's timeline.
pub async fn add_event(
    tx: &mut TenantTx,
    case_id: Uuid,
    kind: &str,
    actor: Actor,
    summary: &str,
    data: Value,
) -> sqlx::Result<()> {
    add_event_at(tx, None, case_id, kind, actor, summary, data).await
}

/// [`add_event`], dated `at` when given (the demo's replayed past: `Env::as_of`).
pub async fn add_event_at(
    tx: &mut TenantTx,
    at: Option<DateTime<Utc>>,
    case_id: Uuid,
    kind: &str,
    actor: Actor,
    summary: &str,
    data: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into case_events (tenant_id, case_id, kind, actor, summary, data, at)
         values ($1, $2, $3, $4, $5, $6, coalesce($7, clock_timestamp()))",
    )
    .bind(tx.tenant_id)
    .bind(case_id)
    .bind(kind)
    .bind(actor.as_str())
    .bind(summary)
    .bind(Json(data))
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub summary: String,
}

/// The timeline; the office's internal events (`internal_*`: notes of who
/// was assigned, opinions asked) only when `internal`.
pub async fn events(tx: &mut TenantTx, case_id: Uuid, internal: bool) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as(
        "select at, kind, actor, summary from case_events
         where case_id = $1 and ($2 or kind not like 'internal\\_%') order by id",
    )
    .bind(case_id)
    .bind(internal)
    .fetch_all(tx.conn())
    .await
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Document {
    pub id: Uuid,
    pub case_id: Uuid,
    pub field_key: Option<String>,
    pub origin: String,
    pub name: String,
    pub format: String,
    pub mime: String,
    pub size: i64,
    pub sha256: String,
    pub integration_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub registry_year: Option<i32>,
    pub registry_number: Option<i64>,
    pub created_at: DateTime<Utc>,
}

const DOCUMENT_COLUMNS: &str = "id, case_id, field_key, origin, name, format, mime, size, sha256, integration_id, \
     message_id, registry_year, registry_number, created_at";

pub struct NewDocument<'a> {
    pub case_id: Uuid,
    pub field_key: Option<&'a str>,
    pub origin: &'a str,
    pub name: &'a str,
    pub format: &'a str,
    pub mime: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    pub integration_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
}

/// Why a document could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The object is not (or no longer) in storage — `StoreError::NotFound` when the
    /// orphan sweep removed it meanwhile: the caller stores it again.
    #[error("storage")]
    Storage(#[source] StoreError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<DocumentError> for AppError {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::Storage(e) => {
                tracing::warn!(error = ?e, "document not recorded: its object is not in storage");
                AppError::Unavailable
            }
            DocumentError::Db(e) => e.into(),
        }
    }
}

/// Records a document whose object the store holds. The orphan sweep deletes an
/// object under the exclusive form of [`lock_object`], after checking that no
/// document refers to it; this holds the shared form until the transaction ends,
/// so either the sweep sees this row (and keeps the object), or it finished first
/// and the object is found missing here — refused, never a reference to nothing.
pub async fn add_document(tx: &mut TenantTx, store: &Store, new: NewDocument<'_>) -> Result<Document, DocumentError> {
    lock_object(tx, new.sha256, false).await?;
    if !store.exists(tx.tenant_id, new.sha256).await.map_err(DocumentError::Storage)? {
        return Err(DocumentError::Storage(StoreError::NotFound));
    }
    Ok(sqlx::query_as(&format!(
        "insert into case_documents (tenant_id, id, case_id, field_key, origin, name, format, mime, size, sha256,
             integration_id, message_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         returning {DOCUMENT_COLUMNS}"
    ))
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(new.case_id)
    .bind(new.field_key)
    .bind(new.origin)
    .bind(new.name)
    .bind(new.format)
    .bind(new.mime)
    .bind(new.size as i64)
    .bind(new.sha256)
    .bind(new.integration_id)
    .bind(new.message_id)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn documents(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<Document>> {
    sqlx::query_as(&format!(
        "select {DOCUMENT_COLUMNS} from case_documents where case_id = $1 order by created_at, name"
    ))
    .bind(case_id)
    .fetch_all(tx.conn())
    .await
}

pub async fn document(tx: &mut TenantTx, case_id: Uuid, id: Uuid) -> sqlx::Result<Option<Document>> {
    sqlx::query_as(&format!("select {DOCUMENT_COLUMNS} from case_documents where case_id = $1 and id = $2"))
        .bind(case_id)
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// Removes an attachment of a draft (the trigger refuses registered ones).
pub async fn remove_draft_document(tx: &mut TenantTx, case_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from case_documents where case_id = $1 and id = $2 and registry_number is null")
        .bind(case_id)
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected()
        == 1)
}

/// Marks the case's not yet registered documents with the registry entry.
pub async fn register_documents(
    tx: &mut TenantTx,
    case_id: Uuid,
    integration_id: Option<Uuid>,
    year: i32,
    number: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update case_documents set registry_year = $3, registry_number = $4
         where case_id = $1 and registry_number is null and integration_id is not distinct from $2",
    )
    .bind(case_id)
    .bind(integration_id)
    .bind(year)
    .bind(number)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// The transaction-long advisory lock on one stored object of the ente (its
/// tenant and hash): shared to record a document, exclusive to delete the object.
pub async fn lock_object(tx: &mut TenantTx, sha256: &str, exclusive: bool) -> sqlx::Result<()> {
    let function = if exclusive { "pg_advisory_xact_lock" } else { "pg_advisory_xact_lock_shared" };
    sqlx::query(&format!("select {function}(hashtextextended($1 || ':' || $2, 0))"))
        .bind(tx.tenant_id.to_string())
        .bind(sha256)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Whether a document of the ente refers to this hash.
pub async fn is_referenced(tx: &mut TenantTx, sha256: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists(select from case_documents where sha256 = $1)")
        .bind(sha256)
        .fetch_one(tx.conn())
        .await
}

/// Every hash the ente's case files refer to (the orphan sweep keeps these).
pub async fn referenced_hashes(tx: &mut TenantTx) -> sqlx::Result<std::collections::HashSet<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("select distinct sha256 from case_documents").fetch_all(tx.conn()).await?;
    Ok(rows.into_iter().map(|(h,)| h).collect())
}

/// A submitted case enters `phase`/`state` with its registry number; the legal
/// clock starts at `registered_at`. Returns the due date it sets.
pub async fn mark_submitted(
    tx: &mut TenantTx,
    case_id: Uuid,
    registry: &crate::registry::Entry,
    phase: &str,
    state: &str,
) -> sqlx::Result<NaiveDate> {
    sqlx::query_scalar(
        "update cases set status = $5, state = $6, state_since = $4, registry_year = $2, registry_number = $3,
             submitted_at = $4, due_date = ($4 at time zone 'Europe/Rome')::date + time_limit_days, updated_at = now()
         where id = $1 returning due_date",
    )
    .bind(case_id)
    .bind(registry.year)
    .bind(registry.number)
    .bind(registry.registered_at)
    .bind(phase)
    .bind(state)
    .fetch_one(tx.conn())
    .await
}

/// Every ente (for the jobs that visit each one).
pub async fn tenant_ids(db: &sqlx::PgPool) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("select id from tenants").fetch_all(db).await
}

pub async fn office_name(tx: &mut TenantTx, code: &str) -> sqlx::Result<String> {
    let name: Option<(String,)> =
        sqlx::query_as("select name from offices where code = $1").bind(code).fetch_optional(tx.conn()).await?;
    Ok(name.map(|(n,)| n).unwrap_or_else(|| code.to_string()))
}

/// How many documents each file field holds.
pub fn file_counts(documents: &[Document]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for d in documents {
        if let Some(key) = &d.field_key {
            *counts.entry(key.clone()).or_default() += 1;
        }
    }
    counts
}

pub fn file_names(documents: &[Document]) -> HashMap<String, Vec<String>> {
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for d in documents {
        if let Some(key) = &d.field_key {
            names.entry(key.clone()).or_default().push(d.name.clone());
        }
    }
    names
}
