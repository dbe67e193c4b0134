//! The console's SQL for the catalogue tree: categories and where procedures
//! sit. Every function takes the tenant scope; row-level security hides every
//! other ente's rows, so a slug of another ente is simply not found.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CategoryRow {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
}

/// Every category, in catalogue order.
pub async fn categories(tx: &mut TenantTx) -> sqlx::Result<Vec<CategoryRow>> {
    sqlx::query_as("select slug, name, description, position from categories order by position, slug")
        .fetch_all(tx.conn())
        .await
}

pub async fn category(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<CategoryRow>> {
    sqlx::query_as("select slug, name, description, position from categories where slug = $1")
        .bind(slug)
        .fetch_optional(tx.conn())
        .await
}

/// A procedure as the tree lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ProcedureRow {
    pub slug: String,
    pub title: String,
    pub category_slug: String,
    pub position: i32,
    pub published: bool,
    pub archived: bool,
    pub revision: i32,
    /// Someone is editing its draft.
    pub draft_edited: bool,
    pub draft_updated_by: Option<String>,
    pub draft_updated_at: Option<DateTime<Utc>>,
}

/// Every procedure (archived ones too), in catalogue order.
pub async fn procedures(tx: &mut TenantTx) -> sqlx::Result<Vec<ProcedureRow>> {
    sqlx::query_as(
        "select p.slug, coalesce(d.content->>'title', p.title) as title, p.category_slug, p.position, p.published,
                p.archived, p.revision, d.procedure_slug is not null as draft_edited,
                d.updated_by as draft_updated_by, d.updated_at as draft_updated_at
         from procedures p left join procedure_drafts d on d.procedure_slug = p.slug
         order by p.archived, p.position, p.slug",
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn procedure(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<ProcedureRow>> {
    Ok(procedures(tx).await?.into_iter().find(|p| p.slug == slug))
}

pub async fn create_category(tx: &mut TenantTx, slug: &str, name: &str, description: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into categories (tenant_id, slug, name, description, position)
         values ($1, $2, $3, $4, (select coalesce(max(position) + 1, 0) from categories))
         on conflict (tenant_id, slug) do nothing",
    )
    .bind(tx.tenant_id)
    .bind(slug)
    .bind(name)
    .bind(description)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn update_category(tx: &mut TenantTx, slug: &str, name: &str, description: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("update categories set name = $2, description = $3 where slug = $1")
        .bind(slug)
        .bind(name)
        .bind(description)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Swaps the category with its neighbour (`by` = -1: up, 1: down). False: no such category.
pub async fn move_category(tx: &mut TenantTx, slug: &str, by: i32) -> sqlx::Result<bool> {
    let order: Vec<String> = categories(tx).await?.into_iter().map(|c| c.slug).collect();
    if !order.iter().any(|s| s == slug) {
        return Ok(false);
    }
    reorder(tx, Ordered::Categories, order, slug, by).await?;
    Ok(true)
}

/// The two lists the console reorders.
#[derive(Clone, Copy)]
enum Ordered {
    Categories,
    Procedures,
}

/// Swaps `slug` with its neighbour in `order` and writes every position again
/// (so that ties left by older data go away); at either end nothing moves.
async fn reorder(tx: &mut TenantTx, what: Ordered, mut order: Vec<String>, slug: &str, by: i32) -> sqlx::Result<()> {
    let Some(at) = order.iter().position(|s| s == slug) else { return Ok(()) };
    let Some(to) = at.checked_add_signed(by as isize).filter(|to| *to < order.len()) else { return Ok(()) };
    order.swap(at, to);
    let sql = match what {
        Ordered::Categories => "update categories set position = $2 where slug = $1 and position <> $2",
        Ordered::Procedures => "update procedures set position = $2 where slug = $1 and position <> $2",
    };
    for (position, slug) in order.iter().enumerate() {
        sqlx::query(sql).bind(slug).bind(position as i32).execute(tx.conn()).await?;
    }
    Ok(())
}

pub enum Removal {
    Removed,
    NotFound,
    /// Procedures (archived ones too) still sit in it.
    HoldsProcedures(i64),
}

pub async fn remove_category(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Removal> {
    if category(tx, slug).await?.is_none() {
        return Ok(Removal::NotFound);
    }
    let held: i64 = sqlx::query_scalar("select count(*) from procedures where category_slug = $1")
        .bind(slug)
        .fetch_one(tx.conn())
        .await?;
    if held > 0 {
        return Ok(Removal::HoldsProcedures(held));
    }
    sqlx::query("delete from categories where slug = $1").bind(slug).execute(tx.conn()).await?;
    Ok(Removal::Removed)
}

/// Moves the procedure to the end of another category.
pub async fn place_in(tx: &mut TenantTx, slug: &str, category: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update procedures set category_slug = $2,
             position = (select coalesce(max(position) + 1, 0) from procedures where category_slug = $2)
         where slug = $1 and category_slug <> $2",
    )
    .bind(slug)
    .bind(category)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Swaps the procedure with its neighbour in its category.
pub async fn move_procedure(tx: &mut TenantTx, slug: &str, by: i32) -> sqlx::Result<()> {
    let Some(row) = procedure(tx, slug).await? else { return Ok(()) };
    let order: Vec<String> = procedures(tx)
        .await?
        .into_iter()
        .filter(|p| p.category_slug == row.category_slug && !p.archived)
        .map(|p| p.slug)
        .collect();
    reorder(tx, Ordered::Procedures, order, slug, by).await
}

/// Online (`published`) and archived, as one state.
pub async fn set_lifecycle(tx: &mut TenantTx, slug: &str, published: bool, archived: bool) -> sqlx::Result<()> {
    sqlx::query("update procedures set published = $2, archived = $3, updated_at = now() where slug = $1")
        .bind(slug)
        .bind(published)
        .bind(archived)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The ente's offices, for the procedure's "office" choice.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OfficeChoice {
    pub code: String,
    pub name: String,
}

/// The offices a procedure or a workflow task may name: the open ones (a
/// closed office keeps its cases but can no longer be chosen).
pub async fn offices(tx: &mut TenantTx) -> sqlx::Result<Vec<OfficeChoice>> {
    sqlx::query_as("select code, name from offices where closed_at is null order by name").fetch_all(tx.conn()).await
}

/// Whom the editor suggests as a procedure's responsible officer: the heads
/// of the open offices (from IPA or typed in) and the active staff who have
/// signed in, by name.
pub async fn officers(tx: &mut TenantTx) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select name from (
             select head as name from offices where closed_at is null and head <> ''
             union
             select trim(u.given_name || ' ' || u.family_name) from users u
             where u.is_staff and trim(u.given_name || ' ' || u.family_name) <> ''
               and not exists (select from staff_members m where m.email = lower(u.email) and m.status = 'deactivated')
         ) n order by name",
    )
    .fetch_all(tx.conn())
    .await
}

/// The staff roles of the ente's policy (what a transition may name): every
/// role a rule grants or a staff member holds, but not citizens, offices
/// (`uo:CODE`) or the platform.
pub async fn staff_roles(tx: &mut TenantTx) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select distinct role from (
             select v0 as role from authz_rules where ptype = 'p'
             union select v1 from authz_rules where ptype = 'g'
         ) r
         where role not like 'uo:%' and role not like 'staff:%' and role not in ('citizen', 'platform')
         order by role",
    )
    .fetch_all(tx.conn())
    .await
}

/// The latest changes made in the console or by onboarding, for the home page.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct RecentChange {
    pub at: DateTime<Utc>,
    pub actor_label: String,
    pub action: String,
    /// Its words: `admin.action.<action with _ for .>`.
    pub action_key: String,
    pub object_type: String,
    pub object_id: String,
}

pub async fn recent_changes(tx: &mut TenantTx, limit: i64) -> sqlx::Result<Vec<RecentChange>> {
    sqlx::query_as(
        "select at, actor_label, action, 'admin.action.' || replace(action, '.', '_') as action_key, object_type, object_id
         from audit_log
         where object_type in ('procedure', 'category', 'tenant', 'branding') order by seq desc limit $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await
}
