//! Drafts and published revisions of procedures (SQL). One path publishes a
//! revision, whoever asks — the ente admin in the console or `tenant apply`:
//! [`publish`] appends the immutable revision, makes `procedures` show it,
//! moves the citizens' open drafts that fit and writes the audit entry.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use std::collections::HashMap;

use crate::{
    audit::{self, Actor},
    db::TenantTx,
    procedure::{
        form::FormSpec,
        revision::{changes, drafts_may_move, form_changes, Change, ProcedureContent},
        spec::Fee,
        workflow::Workflow,
    },
};

/// The draft of a procedure as the console edits it.
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub content: ProcedureContent,
    /// 0: nobody is editing; the draft is the published content.
    pub version: i32,
    /// The published revision (0: never published).
    pub revision: i32,
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Draft {
    /// Whether the draft holds edits not yet published.
    pub fn is_edited(&self) -> bool {
        self.version > 0
    }
}

#[derive(sqlx::FromRow)]
struct ContentRow {
    title: String,
    summary: String,
    description: String,
    audience: String,
    how_to: String,
    required_documents: Vec<String>,
    costs: String,
    fees: Json<Vec<Fee>>,
    office_code: String,
    officer: String,
    time_limit_days: i32,
    calendar_text: String,
    legal_basis: Vec<String>,
    outcome: String,
    conditions: String,
    keywords: String,
    online: bool,
    min_level: i16,
    contacts: String,
    form: Option<Json<FormSpec>>,
    workflow: Option<Json<Workflow>>,
}

impl From<ContentRow> for ProcedureContent {
    fn from(r: ContentRow) -> Self {
        ProcedureContent {
            title: r.title,
            summary: r.summary,
            description: r.description,
            audience: r.audience,
            how_to: r.how_to,
            required_documents: r.required_documents,
            costs: r.costs,
            fees: r.fees.0,
            office: r.office_code,
            officer: r.officer,
            time_limit_days: r.time_limit_days,
            calendar_text: r.calendar_text,
            legal_basis: r.legal_basis,
            outcome: r.outcome,
            conditions: r.conditions,
            keywords: r.keywords.split_whitespace().map(str::to_string).collect(),
            online: r.online,
            min_level: r.min_level,
            contacts: r.contacts,
            form: r.form.map(|f| f.0),
            workflow: r.workflow.map(|w| w.0),
        }
    }
}

/// The published content and its revision number (0: the procedure has no
/// revision yet; its columns are the content). None: no such procedure.
pub async fn published(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<(i32, ProcedureContent)>> {
    let row: Option<(i32, Option<Json<ProcedureContent>>)> = sqlx::query_as(
        "select p.revision, r.content from procedures p
         left join procedure_revisions r on r.procedure_slug = p.slug and r.number = p.revision
         where p.slug = $1",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await?;
    match row {
        None => Ok(None),
        Some((number, Some(content))) => Ok(Some((number, content.0))),
        Some((_, None)) => Ok(row_content(tx, slug).await?.map(|c| (0, c))),
    }
}

async fn row_content(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<ProcedureContent>> {
    let row: Option<ContentRow> = sqlx::query_as(
        "select title, summary, description, audience, how_to, required_documents, costs, fees, office_code,
                officer, time_limit_days, calendar_text, legal_basis, outcome, conditions, keywords, online,
                min_level, contacts, form, workflow
         from procedures where slug = $1",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(Into::into))
}

/// The content of revision `number`.
pub async fn content_at(tx: &mut TenantTx, slug: &str, number: i32) -> sqlx::Result<Option<ProcedureContent>> {
    let row: Option<Json<ProcedureContent>> =
        sqlx::query_scalar("select content from procedure_revisions where procedure_slug = $1 and number = $2")
            .bind(slug)
            .bind(number)
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|c| c.0))
}

/// The draft: the one being edited, or the published content.
pub async fn draft(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<Draft>> {
    let Some((revision, published)) = published(tx, slug).await? else { return Ok(None) };
    let row: Option<(Json<ProcedureContent>, i32, String, DateTime<Utc>)> = sqlx::query_as(
        "select content, version, updated_by, updated_at from procedure_drafts where procedure_slug = $1",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await?;
    Ok(Some(match row {
        Some((content, version, by, at)) => {
            Draft { content: content.0, version, revision, updated_by: Some(by), updated_at: Some(at) }
        }
        None => Draft { content: published, version: 0, revision, updated_by: None, updated_at: None },
    }))
}

pub enum Saved {
    /// The draft's new version.
    Saved(i32),
    /// Somebody saved (or published, or discarded) since `expected_version`:
    /// nothing was written; this is the draft as it is now.
    Conflict(Box<Draft>),
}

/// Saves the draft if nobody changed it since `expected_version` (0: the
/// published content, no draft yet). Locks the procedure until commit.
pub async fn save_draft(
    tx: &mut TenantTx,
    slug: &str,
    content: &ProcedureContent,
    expected_version: i32,
    actor: &Actor,
) -> sqlx::Result<Saved> {
    lock(tx, slug).await?;
    let current = draft(tx, slug).await?.ok_or(sqlx::Error::RowNotFound)?;
    if current.version != expected_version {
        return Ok(Saved::Conflict(Box::new(current)));
    }
    let version = expected_version + 1;
    sqlx::query(
        "insert into procedure_drafts (tenant_id, procedure_slug, content, version, base_revision, updated_by, updated_by_id)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (tenant_id, procedure_slug) do update set content = excluded.content,
             version = excluded.version, updated_by = excluded.updated_by,
             updated_by_id = excluded.updated_by_id, updated_at = clock_timestamp()",
    )
    .bind(tx.tenant_id)
    .bind(slug)
    .bind(Json(content))
    .bind(version)
    .bind(current.revision)
    .bind(&actor.label)
    .bind(actor.id)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "procedure.draft.save",
            object_type: "procedure",
            object_id: slug.to_string(),
            before: Some(json!({ "version": current.version, "sha256": digest(&current.content) })),
            after: Some(json!({ "version": version, "sha256": digest(content) })),
        },
    )
    .await?;
    Ok(Saved::Saved(version))
}

/// Drops the draft's edits: the draft is the published content again.
pub async fn discard_draft(tx: &mut TenantTx, slug: &str, actor: &Actor) -> sqlx::Result<bool> {
    lock(tx, slug).await?;
    let gone: Option<(i32, Json<ProcedureContent>)> =
        sqlx::query_as("delete from procedure_drafts where procedure_slug = $1 returning version, content")
            .bind(slug)
            .fetch_optional(tx.conn())
            .await?;
    let Some((version, content)) = gone else { return Ok(false) };
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "procedure.draft.discard",
            object_type: "procedure",
            object_id: slug.to_string(),
            before: Some(json!({ "version": version, "sha256": digest(&content.0) })),
            after: None,
        },
    )
    .await?;
    Ok(true)
}

/// What a publication did.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub slug: String,
    pub number: i32,
    pub changes: Vec<Change>,
    /// Citizens' open drafts moved to the new revision, and those left on theirs.
    pub drafts_moved: u64,
    pub drafts_kept: u64,
}

/// Publishes `content` as the procedure's next revision: appends it, makes the
/// public pages and new cases use it, drops the draft, moves the open drafts
/// whose form it fits, audits. The caller has checked the content
/// ([`ProcedureContent::problems`]) and commits; nothing is written when the
/// content equals the published one (`Ok(None)`).
pub async fn publish(
    tx: &mut TenantTx,
    slug: &str,
    content: &ProcedureContent,
    actor: &Actor,
) -> sqlx::Result<Option<Published>> {
    lock(tx, slug).await?;
    let (number, old) = published(tx, slug).await?.ok_or(sqlx::Error::RowNotFound)?;
    let changes = changes((number > 0).then_some(&old), content);
    if changes.is_empty() {
        sqlx::query("delete from procedure_drafts where procedure_slug = $1").bind(slug).execute(tx.conn()).await?;
        return Ok(None);
    }
    let number = number + 1;
    sqlx::query(
        "insert into procedure_revisions (tenant_id, procedure_slug, number, content, changes, published_by, published_by_id)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id)
    .bind(slug)
    .bind(number)
    .bind(Json(content))
    .bind(Json(&changes))
    .bind(&actor.label)
    .bind(actor.id)
    .execute(tx.conn())
    .await?;
    project(tx, slug, content, number).await?;
    sqlx::query("delete from procedure_drafts where procedure_slug = $1").bind(slug).execute(tx.conn()).await?;
    let (drafts_moved, drafts_kept) = move_open_drafts(tx, slug, content, number).await?;
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "procedure.publish",
            object_type: "procedure",
            object_id: slug.to_string(),
            before: (number > 1).then(|| json!({ "revision": number - 1, "sha256": digest(&old) })),
            after: Some(json!({
                "revision": number, "sha256": digest(content), "changes": changes,
                "drafts_moved": drafts_moved, "drafts_kept": drafts_kept,
            })),
        },
    )
    .await?;
    Ok(Some(Published { slug: slug.to_string(), number, changes, drafts_moved, drafts_kept }))
}

/// Writes the content into the procedure's columns (what the public pages, the
/// search and a new case read).
async fn project(tx: &mut TenantTx, slug: &str, c: &ProcedureContent, revision: i32) -> sqlx::Result<()> {
    sqlx::query(
        "update procedures set office_code = $2, title = $3, summary = $4, description = $5, audience = $6,
             how_to = $7, required_documents = $8, costs = $9, fees = $10, officer = $11, time_limit_days = $12,
             calendar_text = $13, legal_basis = $14, outcome = $15, conditions = $16, contacts = $17,
             keywords = $18, online = $19, min_level = $20, form = $21, workflow = $22, revision = $23,
             updated_at = now()
         where slug = $1",
    )
    .bind(slug)
    .bind(&c.office)
    .bind(&c.title)
    .bind(&c.summary)
    .bind(&c.description)
    .bind(&c.audience)
    .bind(&c.how_to)
    .bind(&c.required_documents)
    .bind(&c.costs)
    .bind(Json(&c.fees))
    .bind(&c.officer)
    .bind(c.time_limit_days)
    .bind(&c.calendar_text)
    .bind(&c.legal_basis)
    .bind(&c.outcome)
    .bind(&c.conditions)
    .bind(&c.contacts)
    .bind(c.keywords.join(" "))
    .bind(c.online)
    .bind(c.min_level)
    .bind(c.form.as_ref().map(Json))
    .bind(c.workflow.as_ref().map(Json))
    .bind(revision)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Creates a procedure in the catalogue, not yet published (revision 0): its
/// content is the first draft.
pub async fn create(tx: &mut TenantTx, slug: &str, category: &str, content: &ProcedureContent) -> sqlx::Result<()> {
    sqlx::query(
        "insert into procedures (tenant_id, slug, category_slug, office_code, title, summary, time_limit_days,
             published, position)
         values ($1, $2, $3, $4, $5, $6, $7, false,
                 (select coalesce(max(position) + 1, 0) from procedures where category_slug = $3))",
    )
    .bind(tx.tenant_id)
    .bind(slug)
    .bind(category)
    .bind(&content.office)
    .bind(&content.title)
    .bind(&content.summary)
    .bind(content.time_limit_days)
    .execute(tx.conn())
    .await?;
    project(tx, slug, content, 0).await
}

#[derive(sqlx::FromRow)]
struct OpenDraft {
    id: uuid::Uuid,
    revision: i32,
    form: Json<FormSpec>,
    answers: Json<serde_json::Value>,
    step: i32,
}

/// Moves the citizens' open drafts of the procedure to revision `number` when
/// its form fits what they hold: every change between the form a draft was
/// started with and the new one lets a draft move (an optional field added, a
/// field removed, options added, a field made optional, wording). The others
/// stay on their revision and are submitted on it. Submitted cases never move.
async fn move_open_drafts(
    tx: &mut TenantTx,
    slug: &str,
    content: &ProcedureContent,
    number: i32,
) -> sqlx::Result<(u64, u64)> {
    let drafts: Vec<OpenDraft> = sqlx::query_as(
        "select id, revision, form, answers, step from cases
         where procedure_slug = $1 and status = 'draft' and revision < $2 for update",
    )
    .bind(slug)
    .bind(number)
    .fetch_all(tx.conn())
    .await?;
    // A procedure without a form of its own gives each draft the generic form
    // in the citizen's language: it fits when the draft's revision had none either.
    let mut generic_before: HashMap<i32, bool> = HashMap::new();
    let (mut moved, mut kept) = (0, 0);
    for OpenDraft { id, revision, form, mut answers, step } in drafts {
        let fits = match &content.form {
            Some(new) => drafts_may_move(&form_changes(&form.0, new)),
            None => {
                if let std::collections::hash_map::Entry::Vacant(e) = generic_before.entry(revision) {
                    let had_none =
                        revision > 0 && content_at(tx, slug, revision).await?.is_some_and(|c| c.form.is_none());
                    e.insert(had_none);
                }
                generic_before[&revision]
            }
        };
        if !fits {
            kept += 1;
            continue;
        }
        let form = content.form.clone().unwrap_or(form.0);
        // Answers of fields the new form no longer has go with them.
        if let Some(map) = answers.0.as_object_mut() {
            map.retain(|key, _| form.steps.iter().flat_map(|s| &s.fields).any(|f| &f.key == key));
        }
        let last_step = form.steps.len().saturating_sub(1) as i32;
        sqlx::query(
            "update cases set revision = $2, form = $3, answers = $4, step = least($5, $6), procedure_title = $7,
                 office_code = $8, time_limit_days = $9, workflow = $10
             where id = $1 and status = 'draft'",
        )
        .bind(id)
        .bind(number)
        .bind(Json(&form))
        .bind(&answers)
        .bind(step)
        .bind(last_step)
        .bind(&content.title)
        .bind(&content.office)
        .bind(content.time_limit_days)
        .bind(Json(content.workflow.clone().unwrap_or_else(Workflow::standard)))
        .execute(tx.conn())
        .await?;
        moved += 1;
    }
    Ok((moved, kept))
}

/// One published revision, as the history page lists it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RevisionSummary {
    pub number: i32,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
    #[serde(skip)]
    pub changes: Json<Vec<Change>>,
    /// Cases started on it (drafts included).
    pub cases: i64,
}

/// The published revisions, newest first.
pub async fn history(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Vec<RevisionSummary>> {
    sqlx::query_as(
        "select r.number, r.published_at, r.published_by, r.changes,
                (select count(*) from cases c where c.procedure_slug = r.procedure_slug and c.revision = r.number) as cases
         from procedure_revisions r where r.procedure_slug = $1 order by r.number desc",
    )
    .bind(slug)
    .fetch_all(tx.conn())
    .await
}

/// Serialises edits of one procedure (drafts, publication) until commit.
async fn lock(tx: &mut TenantTx, slug: &str) -> sqlx::Result<()> {
    sqlx::query("select 1 from procedures where slug = $1 for update")
        .bind(slug)
        .fetch_optional(tx.conn())
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(())
}

/// SHA-256 of the content's canonical JSON: what the audit trail records.
pub fn digest(content: &ProcedureContent) -> String {
    let value = serde_json::to_value(content).unwrap_or_default();
    let mut canonical = String::new();
    audit::canonical_json(&value, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}
