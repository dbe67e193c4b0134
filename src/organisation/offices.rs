//! The ente's offices as stored, and a synchronisation with IPA applied: all
//! of it in the caller's transaction or none of it. Every function takes the
//! tenant scope; row-level security hides every other ente's offices.

use serde::Serialize;
use uuid::Uuid;

use super::ipa::{Current, IpaOffice, Plan};
use crate::{
    audit::{self, Actor, Change},
    db::TenantTx,
};

/// An office as the console's tree shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Office {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub head: String,
    pub email: String,
    pub pec: String,
    pub phone: String,
    pub address: String,
    pub opening_hours: String,
    pub notes: String,
    pub ipa_code: Option<String>,
    pub closed: bool,
}

/// Every office, open and closed, by name.
pub async fn all(tx: &mut TenantTx) -> sqlx::Result<Vec<Office>> {
    sqlx::query_as(
        "select code, name, parent_code, head, email, pec, phone, address, opening_hours, notes, ipa_code,
                closed_at is not null as closed
         from offices order by name, code",
    )
    .fetch_all(tx.conn())
    .await
}

/// What a synchronisation compares: every office, open and closed.
pub async fn current(tx: &mut TenantTx) -> sqlx::Result<Vec<Current>> {
    Ok(all(tx).await?.into_iter().map(Current::from).collect())
}

impl From<Office> for Current {
    fn from(o: Office) -> Self {
        Current {
            code: o.code,
            ipa_code: o.ipa_code,
            name: o.name,
            parent_code: o.parent_code,
            head: o.head,
            email: o.email,
            pec: o.pec,
            phone: o.phone,
            address: o.address,
            closed: o.closed,
        }
    }
}

/// One office with its place in the tree: `depth` 0 for the roots.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub depth: usize,
    pub office: Office,
}

/// The offices in tree order: each root, then its children by name, depth first.
pub fn tree(offices: Vec<Office>) -> Vec<Placed> {
    let codes: std::collections::HashSet<String> = offices.iter().map(|o| o.code.clone()).collect();
    let mut out = Vec::with_capacity(offices.len());
    fn place(
        parent: Option<&str>,
        depth: usize,
        rest: &[Office],
        codes: &std::collections::HashSet<String>,
        out: &mut Vec<Placed>,
    ) {
        for office in rest {
            let is_child = match parent {
                Some(p) => office.parent_code.as_deref() == Some(p),
                // A root, or an office whose parent is not there (never, with the foreign key).
                None => office.parent_code.as_ref().is_none_or(|p| !codes.contains(p)),
            };
            if is_child && depth < 32 {
                out.push(Placed { depth, office: office.clone() });
                place(Some(&office.code), depth + 1, rest, codes, out);
            }
        }
    }
    place(None, 0, &offices, &codes, &mut out);
    out
}

/// What a synchronisation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub added: usize,
    pub changed: usize,
    pub closed: usize,
}

/// Where the file came from, for the record of the run.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Upload,
    Url,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::Url => "url",
        }
    }
}

/// Applies `plan` (made from `rows` of a file with digest `sha256`) and records
/// the run and an audit entry. The ente's own fields (opening hours, notes)
/// are never written; an office IPA no longer lists is closed, not deleted.
pub async fn apply(
    tx: &mut TenantTx,
    plan: &Plan,
    sha256: &str,
    source: Source,
    actor: &Actor,
) -> sqlx::Result<Applied> {
    for (office, parent) in &plan.added {
        sqlx::query(
            "insert into offices (tenant_id, code, name, parent_code, head, email, pec, phone, address, ipa_code, ipa_updated)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $2, $10)",
        )
        .bind(tx.tenant_id)
        .bind(&office.code)
        .bind(&office.name)
        .bind(parent)
        .bind(&office.head)
        .bind(&office.email)
        .bind(&office.pec)
        .bind(&office.phone)
        .bind(&office.address)
        .bind(&office.updated)
        .execute(tx.conn())
        .await?;
    }
    for changed in &plan.changed {
        update_from_ipa(tx, &changed.code, &changed.office, changed.parent_code.as_deref()).await?;
    }
    for (code, _) in &plan.closed {
        sqlx::query("update offices set closed_at = now() where code = $1 and closed_at is null")
            .bind(code)
            .execute(tx.conn())
            .await?;
    }
    let applied = Applied { added: plan.added.len(), changed: plan.changed.len(), closed: plan.closed.len() };
    sqlx::query(
        "insert into office_syncs (tenant_id, id, actor_label, source, file_sha256, rows_read, added, changed, closed)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(&actor.label)
    .bind(source.as_str())
    .bind(sha256)
    .bind(plan.rows as i32)
    .bind(applied.added as i32)
    .bind(applied.changed as i32)
    .bind(applied.closed as i32)
    .execute(tx.conn())
    .await?;
    if !plan.is_empty() {
        let after = serde_json::json!({
            "file_sha256": sha256,
            "added": plan.added.iter().map(|(o, _)| &o.code).collect::<Vec<_>>(),
            "changed": plan.changed.iter().map(|c| &c.code).collect::<Vec<_>>(),
            "closed": plan.closed.iter().map(|(c, _)| c).collect::<Vec<_>>(),
        });
        let change = Change {
            action: "offices.ipa_sync",
            object_type: "offices",
            object_id: "ipa".into(),
            before: None,
            after: Some(after),
        };
        audit::append(tx, actor, change).await?;
    }
    Ok(applied)
}

async fn update_from_ipa(tx: &mut TenantTx, code: &str, office: &IpaOffice, parent: Option<&str>) -> sqlx::Result<()> {
    sqlx::query(
        "update offices set name = $2, parent_code = $3, head = $4, email = $5, pec = $6, phone = $7, address = $8,
             ipa_code = $9, ipa_updated = $10, closed_at = null
         where code = $1",
    )
    .bind(code)
    .bind(&office.name)
    .bind(parent)
    .bind(&office.head)
    .bind(&office.email)
    .bind(&office.pec)
    .bind(&office.phone)
    .bind(&office.address)
    .bind(&office.code)
    .bind(&office.updated)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records a run whose file was refused: `refusal` says why (a message, as
/// `i18n::Text`); nothing else is written.
pub async fn record_refusal(
    tx: &mut TenantTx,
    sha256: &str,
    source: Source,
    actor: &Actor,
    refusal: &crate::i18n::Text,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into office_syncs (tenant_id, id, actor_label, source, file_sha256, rows_read, added, changed, closed, refusal)
         values ($1, $2, $3, $4, $5, 0, 0, 0, 0, $6)",
    )
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(&actor.label)
    .bind(source.as_str())
    .bind(sha256)
    .bind(sqlx::types::Json(refusal))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The last synchronisation run, if any: when, by whom, from where, and what
/// it changed or why its file was refused.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LastSync {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_label: String,
    pub source: String,
    pub rows_read: i32,
    pub added: i32,
    pub changed: i32,
    pub closed: i32,
    pub refusal: Option<serde_json::Value>,
}

pub async fn last_sync(tx: &mut TenantTx) -> sqlx::Result<Option<LastSync>> {
    sqlx::query_as(
        "select at, actor_label, source, rows_read, added, changed, closed, refusal
         from office_syncs order by at desc limit 1",
    )
    .fetch_optional(tx.conn())
    .await
}

/// Keeps what was read of an uploaded file (the ente's rows, as JSON: never
/// the national file) until its preview is applied; returns its id.
pub async fn keep_upload(tx: &mut TenantTx, body: &[u8], sha256: &str, by: &str) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    // One pending file per ente is enough: an older preview is superseded.
    sqlx::query("delete from office_sync_uploads").execute(tx.conn()).await?;
    sqlx::query(
        "insert into office_sync_uploads (tenant_id, id, created_by, sha256, body) values ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(by)
    .bind(sha256)
    .bind(body)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Takes the kept file (it is removed with the transaction's commit).
pub async fn take_upload(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<(Vec<u8>, String)>> {
    sqlx::query_as("delete from office_sync_uploads where id = $1 returning body, sha256")
        .bind(id)
        .fetch_optional(tx.conn())
        .await
}

/// One office, open or closed.
pub async fn one(tx: &mut TenantTx, code: &str) -> sqlx::Result<Option<Office>> {
    sqlx::query_as(
        "select code, name, parent_code, head, email, pec, phone, address, opening_hours, notes, ipa_code,
                closed_at is not null as closed
         from offices where code = $1",
    )
    .bind(code)
    .fetch_optional(tx.conn())
    .await
}

/// What the console's office form edits (the code only when creating).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OfficeFields {
    pub name: String,
    pub parent_code: Option<String>,
    pub head: String,
    pub email: String,
    pub pec: String,
    pub phone: String,
    pub address: String,
    pub opening_hours: String,
    pub notes: String,
}

impl OfficeFields {
    pub fn of(office: &Office) -> Self {
        Self {
            name: office.name.clone(),
            parent_code: office.parent_code.clone(),
            head: office.head.clone(),
            email: office.email.clone(),
            pec: office.pec.clone(),
            phone: office.phone.clone(),
            address: office.address.clone(),
            opening_hours: office.opening_hours.clone(),
            notes: office.notes.clone(),
        }
    }
}

/// Creates an office; false when the code is taken.
pub async fn create(tx: &mut TenantTx, code: &str, f: &OfficeFields) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into offices (tenant_id, code, name, parent_code, head, email, pec, phone, address, opening_hours, notes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) on conflict (tenant_id, code) do nothing",
    )
    .bind(tx.tenant_id)
    .bind(code)
    .bind(&f.name)
    .bind(&f.parent_code)
    .bind(&f.head)
    .bind(&f.email)
    .bind(&f.pec)
    .bind(&f.phone)
    .bind(&f.address)
    .bind(&f.opening_hours)
    .bind(&f.notes)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update(tx: &mut TenantTx, code: &str, f: &OfficeFields) -> sqlx::Result<()> {
    sqlx::query(
        "update offices set name = $2, parent_code = $3, head = $4, email = $5, pec = $6, phone = $7, address = $8,
             opening_hours = $9, notes = $10
         where code = $1",
    )
    .bind(code)
    .bind(&f.name)
    .bind(&f.parent_code)
    .bind(&f.head)
    .bind(&f.email)
    .bind(&f.pec)
    .bind(&f.phone)
    .bind(&f.address)
    .bind(&f.opening_hours)
    .bind(&f.notes)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Closes (or reopens) an office.
pub async fn set_closed(tx: &mut TenantTx, code: &str, closed: bool) -> sqlx::Result<()> {
    sqlx::query("update offices set closed_at = case when $2 then coalesce(closed_at, now()) end where code = $1")
        .bind(code)
        .bind(closed)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The titles of the published procedures whose office is `code` (what keeps it open).
pub async fn published_procedures_of(tx: &mut TenantTx, code: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select title from procedures where office_code = $1 and published and not archived order by title",
    )
    .bind(code)
    .fetch_all(tx.conn())
    .await
}

/// Whether making `parent` the parent of `code` would put `code` under itself.
pub async fn would_cycle(tx: &mut TenantTx, code: &str, parent: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "with recursive up(code, parent_code, depth) as (
             select code, parent_code, 0 from offices where code = $2
             union all
             select o.code, o.parent_code, up.depth + 1 from offices o join up on o.code = up.parent_code
             where up.depth < 64
         )
         select exists (select 1 from up where code = $1)",
    )
    .bind(code)
    .bind(parent)
    .fetch_one(tx.conn())
    .await
}
