//! The console's table of tenants: who they are (the `tenants` row, readable
//! by the platform) and how much they hold — counts only, each read inside the
//! ente's own row-level-security scope, so the console never sees a row of
//! citizens' data, only how many there are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

/// Rows a page of the table shows.
pub const PAGE_SIZE: i64 = 50;

/// The table's query string: search, sort, page.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TableQuery {
    /// Part of a name, slug or host.
    pub q: String,
    /// `name` (default), `slug`, `status` or `created`; `-` first for descending.
    pub ordina: String,
    pub pagina: i64,
}

impl TableQuery {
    fn order_by(&self) -> &'static str {
        match self.ordina.as_str() {
            "slug" => "t.slug asc",
            "-slug" => "t.slug desc",
            "status" => "t.status asc, t.name asc",
            "-status" => "t.status desc, t.name asc",
            "created" => "t.created_at asc",
            "-created" => "t.created_at desc",
            "-name" => "t.name desc, t.slug desc",
            _ => "t.name asc, t.slug asc",
        }
    }

    pub fn page(&self) -> i64 {
        self.pagina.max(1)
    }
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct TenantLine {
    #[serde(skip)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub theme: String,
    pub hosts: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Why it is suspended (shown on its pages), empty when active.
    pub suspension_reason: String,
    #[sqlx(skip)]
    pub counts: Counts,
}

/// What a tenant holds, counted in its own scope.
#[derive(Debug, Default, Serialize, sqlx::FromRow)]
pub struct Counts {
    pub open_cases: i64,
    pub cases_this_month: i64,
    pub citizens: i64,
    pub staff: i64,
    pub mails_this_month: i64,
    pub sms_this_month: i64,
    pub last_activity: Option<DateTime<Utc>>,
}

const COUNTS: &str = "select
        (select count(*) from cases where status in ('submitted', 'awaiting_integration', 'in_progress')) as open_cases,
        (select count(*) from cases where submitted_at >= date_trunc('month', now() at time zone 'Europe/Rome')
             at time zone 'Europe/Rome') as cases_this_month,
        (select count(*) from users where not is_staff) as citizens,
        (select count(*) from staff_members where status <> 'deactivated') as staff,
        (select count(*) from mail_outbox where created_at >= date_trunc('month', now())) as mails_this_month,
        (select count(*) from sms_outbox where created_at >= date_trunc('month', now())) as sms_this_month,
        (select max(at) from audit_log) as last_activity";

/// One page of the table and how many tenants match in all.
pub async fn table(db: &PgPool, query: &TableQuery) -> sqlx::Result<(Vec<TenantLine>, i64)> {
    let pattern = format!("%{}%", query.q.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let matches = "(t.name ilike $1 or t.slug ilike $1
                    or exists (select from tenant_domains d where d.tenant_id = t.id and d.host ilike $1))";
    let total: i64 = sqlx::query_scalar(&format!("select count(*) from tenants t where {matches}"))
        .bind(&pattern)
        .fetch_one(db)
        .await?;
    let mut lines: Vec<TenantLine> =
        sqlx::query_as(&format!("{LINE} where {matches} order by {} limit $2 offset $3", query.order_by()))
            .bind(&pattern)
            .bind(PAGE_SIZE)
            .bind((query.page() - 1) * PAGE_SIZE)
            .fetch_all(db)
            .await?;
    count_into(db, &mut lines).await?;
    Ok((lines, total))
}

const LINE: &str = "select t.id, t.slug, t.name, t.status, t.theme, t.created_at, t.suspension_reason,
        coalesce((select array_agg(d.host order by d.is_primary desc, d.host) from tenant_domains d
                  where d.tenant_id = t.id), '{}') as hosts
     from tenants t";

/// One tenant by slug, with its counts.
pub async fn one(db: &PgPool, slug: &str) -> sqlx::Result<Option<TenantLine>> {
    let line: Option<TenantLine> =
        sqlx::query_as(&format!("{LINE} where t.slug = $1")).bind(slug).fetch_optional(db).await?;
    let mut lines: Vec<TenantLine> = line.into_iter().collect();
    count_into(db, &mut lines).await?;
    Ok(lines.pop())
}

/// Fills in each line's counts: one transaction, each tenant counted in its
/// own scope (the setting is local to the transaction, which ends here).
async fn count_into(db: &PgPool, lines: &mut [TenantLine]) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    for line in lines {
        sqlx::query("select set_config('app.tenant_id', $1, true)").bind(line.id.to_string()).execute(&mut *tx).await?;
        line.counts = sqlx::query_as(COUNTS).fetch_one(&mut *tx).await?;
    }
    tx.rollback().await?;
    Ok(())
}

/// Suspends (with the reason its pages show) or resumes a tenant, through the
/// one function the runtime role may call on `tenants`; the tenant's id, if it exists.
pub async fn set_status(db: &PgPool, slug: &str, suspend: bool, reason: &str) -> sqlx::Result<Option<Uuid>> {
    let status = if suspend { "suspended" } else { "active" };
    sqlx::query_scalar("select platform_set_tenant_status($1, $2, $3)")
        .bind(slug)
        .bind(status)
        .bind(reason)
        .fetch_one(db)
        .await
}
