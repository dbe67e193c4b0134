//! Back-office SQL: the inbox, the desk's extras (notes, tasks), assignment.
//! Every function takes the tenant scope; which offices an operator may see is
//! passed in (from the Casbin policy) and applied in the query itself.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{db::TenantTx, procedure::status::CaseStatus};

/// The inbox's filters, as the query string carries them (Italian names: they
/// show in the address bar).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct InboxFilter {
    /// Procedure slug.
    #[serde(default)]
    pub procedura: String,
    /// A phase (`submitted`, `in_progress`, ...), `aperte` (default: not final) or `tutte`.
    #[serde(default)]
    pub stato: String,
    /// `scadute` (overdue), `7` or `30` (due within so many days).
    #[serde(default)]
    pub scadenza: String,
    /// `me`, `nessuno` or a staff user id.
    #[serde(default)]
    pub assegnatario: String,
    /// Registry number (`12`, `2026/12`, the full mark), case code, fiscal code or name.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub pagina: Option<u32>,
}

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct InboxRow {
    pub id: Uuid,
    pub reference: String,
    pub procedure_title: String,
    pub office_code: String,
    pub status: CaseStatus,
    pub state_label: Option<String>,
    pub state_colour: Option<String>,
    pub registry_year: Option<i32>,
    pub registry_number: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub due_date: Option<NaiveDate>,
    pub overdue: bool,
    pub citizen_name: String,
    pub fiscal_code: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub assignee_name: Option<String>,
    pub open_tasks: i64,
    /// Messages of the citizen the office has not read.
    pub unread: i64,
}

/// What the search box was given.
#[derive(Debug, PartialEq, Eq)]
enum Search {
    None,
    Registry { year: Option<i32>, number: i64 },
    Reference(String),
    FiscalCode(String),
    Name(String),
}

fn parse_search(q: &str) -> Search {
    let q = q.trim();
    if q.is_empty() {
        return Search::None;
    }
    let upper = q.to_uppercase();
    if upper.starts_with("PR-") {
        return Search::Reference(upper);
    }
    if upper.len() == 16
        && upper.bytes().all(|b| b.is_ascii_alphanumeric())
        && upper.bytes().any(|b| b.is_ascii_digit())
    {
        return Search::FiscalCode(upper);
    }
    // `12`, `2026/12`, `2026-0000012`, `c_v412-2026-0000012`.
    let parts: Vec<&str> = q.split(['/', '-']).filter(|p| !p.is_empty()).collect();
    let numeric: Vec<&str> = parts.iter().rev().take(2).copied().collect();
    match numeric.as_slice() {
        [number] if number.bytes().all(|b| b.is_ascii_digit()) => {
            if let Ok(number) = number.parse() {
                return Search::Registry { year: None, number };
            }
        }
        [number, year, ..]
            if number.bytes().all(|b| b.is_ascii_digit())
                && year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit()) =>
        {
            if let (Ok(number), Ok(year)) = (number.parse(), year.parse()) {
                return Search::Registry { year: Some(year), number };
            }
        }
        [number, ..] if parts.len() == 1 && number.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => {}
    }
    Search::Name(q.to_lowercase())
}

/// One page of the inbox: cases of the offices the operator may read (or with
/// an open task for them), filtered, earliest deadline first.
pub async fn inbox(
    tx: &mut TenantTx,
    offices: &[String],
    me: Option<Uuid>,
    filter: &InboxFilter,
    today: NaiveDate,
) -> sqlx::Result<Vec<InboxRow>> {
    let finals = CaseStatus::final_names();
    let mut sql = QueryBuilder::<Postgres>::new(
        "select c.id, c.reference, c.procedure_title, c.office_code, c.status,
                (select s->>'label' from jsonb_array_elements(c.workflow->'statuses') s where s->>'key' = c.state)
                    as state_label,
                (select s->>'colour' from jsonb_array_elements(c.workflow->'statuses') s where s->>'key' = c.state)
                    as state_colour,
                c.registry_year, c.registry_number, c.submitted_at, c.due_date,
                coalesce(c.due_date < (now() at time zone 'Europe/Rome')::date and c.status <> all(",
    );
    sql.push_bind(finals.clone()).push(
        "), false) as overdue,
                trim(u.given_name || ' ' || u.family_name) as citizen_name, u.fiscal_code,
                c.assignee_id, trim(a.given_name || ' ' || a.family_name) as assignee_name,
                (select count(*) from case_tasks t where t.case_id = c.id and t.answered_at is null) as open_tasks,
                (select count(*) from messages m where m.case_id = c.id and m.sender = 'citizen' and m.read_at is null)
                    as unread
         from cases c
         join users u on u.id = c.user_id
         left join users a on a.id = c.assignee_id
         where c.status <> 'draft'
           and (c.office_code = any(",
    );
    sql.push_bind(offices.to_vec()).push(
        ") or exists (select 1 from case_tasks t
                           where t.case_id = c.id and t.office_code = any(",
    );
    sql.push_bind(offices.to_vec()).push(") and t.answered_at is null))");
    if !filter.procedura.is_empty() {
        sql.push(" and c.procedure_slug = ").push_bind(filter.procedura.clone());
    }
    match filter.stato.as_str() {
        "" | "aperte" => {
            sql.push(" and c.status <> all(").push_bind(finals.clone()).push(")");
        }
        "tutte" => {}
        other => {
            sql.push(" and c.status = ").push_bind(other.to_string());
        }
    }
    match filter.scadenza.as_str() {
        "scadute" => {
            sql.push(" and c.due_date < ").push_bind(today);
            sql.push(" and c.status <> all(").push_bind(finals).push(")");
        }
        days @ ("7" | "30") => {
            let days: i64 = days.parse().expect("7 or 30");
            sql.push(" and c.due_date <= ").push_bind(today + chrono::Duration::days(days));
        }
        _ => {}
    }
    match filter.assegnatario.as_str() {
        "" => {}
        "nessuno" => {
            sql.push(" and c.assignee_id is null");
        }
        "me" => {
            sql.push(" and c.assignee_id = ").push_bind(me);
        }
        other => {
            sql.push(" and c.assignee_id = ").push_bind(Uuid::parse_str(other).ok());
        }
    }
    match parse_search(&filter.q) {
        Search::None => {}
        Search::Registry { year, number } => {
            sql.push(" and c.registry_number = ").push_bind(number);
            if let Some(year) = year {
                sql.push(" and c.registry_year = ").push_bind(year);
            }
        }
        Search::Reference(r) => {
            sql.push(" and c.reference = ").push_bind(r);
        }
        Search::FiscalCode(f) => {
            sql.push(" and u.fiscal_code = ").push_bind(f);
        }
        Search::Name(n) => {
            let prefix = format!("{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            sql.push(" and (lower(u.family_name) like ").push_bind(prefix.clone());
            sql.push(" or lower(u.given_name || ' ' || u.family_name) like ").push_bind(prefix.clone());
            sql.push(" or lower(u.family_name || ' ' || u.given_name) like ").push_bind(prefix).push(")");
        }
    }
    let page = i64::from(filter.pagina.unwrap_or(1).max(1)) - 1;
    sql.push(" order by c.due_date asc nulls last, c.submitted_at asc, c.id limit ")
        .push_bind(PAGE_SIZE + 1)
        .push(" offset ")
        .push_bind(page * PAGE_SIZE);
    sql.build_query_as::<InboxRow>().fetch_all(tx.conn()).await
}

/// May the operator see this case (its office, or an open task for one of theirs)?
pub async fn visible(tx: &mut TenantTx, case_id: Uuid, offices: &[String]) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from cases c where c.id = $1 and c.status <> 'draft'
                 and (c.office_code = any($2) or exists (select 1 from case_tasks t
                      where t.case_id = c.id and t.office_code = any($2))))",
    )
    .bind(case_id)
    .bind(offices)
    .fetch_one(tx.conn())
    .await
}

pub async fn assign(tx: &mut TenantTx, case_id: Uuid, assignee: Option<Uuid>) -> sqlx::Result<()> {
    sqlx::query("update cases set assignee_id = $2, updated_at = now() where id = $1")
        .bind(case_id)
        .bind(assignee)
        .execute(tx.conn())
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Colleague {
    pub id: Uuid,
    pub name: String,
    /// The staff member they sign in as (`staff:<email>`), matched by how they
    /// signed in: the ente's provider, a local account or the fiscal code.
    #[serde(skip)]
    pub email: String,
}

/// Active staff of the ente who have signed in at least once (so have a user).
pub async fn colleagues(tx: &mut TenantTx) -> sqlx::Result<Vec<Colleague>> {
    sqlx::query_as(
        "select distinct on (u.family_name, u.given_name, u.id)
                u.id, trim(u.given_name || ' ' || u.family_name) as name, m.email
         from users u
         join staff_members m on m.status = 'active'
             and (m.email in (select i.email from staff_identities i where i.user_id = u.id)
                  or m.email in (select a.email from staff_accounts a where a.user_id = u.id)
                  or (m.fiscal_code is not null and m.fiscal_code = u.fiscal_code))
         where u.is_staff
         order by u.family_name, u.given_name, u.id, m.email",
    )
    .fetch_all(tx.conn())
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Note {
    pub id: Uuid,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_note(tx: &mut TenantTx, case_id: Uuid, author: Uuid, body: &str) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("insert into case_notes (tenant_id, id, case_id, author_id, body) values ($1, $2, $3, $4, $5)")
        .bind(tx.tenant_id)
        .bind(id)
        .bind(case_id)
        .bind(author)
        .bind(body)
        .execute(tx.conn())
        .await?;
    Ok(id)
}

pub async fn notes(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<Note>> {
    sqlx::query_as(
        "select n.id, trim(u.given_name || ' ' || u.family_name) as author, n.body, n.created_at
         from case_notes n join users u on u.id = n.author_id where n.case_id = $1 order by n.created_at",
    )
    .bind(case_id)
    .fetch_all(tx.conn())
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Task {
    pub id: Uuid,
    pub office_code: String,
    pub office_name: String,
    pub kind: String,
    pub question: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

pub async fn tasks(tx: &mut TenantTx, case_id: Uuid) -> sqlx::Result<Vec<Task>> {
    sqlx::query_as(
        "select t.id, t.office_code, coalesce(o.name, t.office_code) as office_name, t.kind, t.question,
                t.requested_by, t.requested_at, t.answer, t.answered_by, t.answered_at
         from case_tasks t left join offices o on o.code = t.office_code
         where t.case_id = $1 order by t.requested_at",
    )
    .bind(case_id)
    .fetch_all(tx.conn())
    .await
}

/// Answers an open task of one of `offices`; false if there is none.
pub async fn answer_task(
    tx: &mut TenantTx,
    case_id: Uuid,
    task_id: Uuid,
    offices: &[String],
    answer: &str,
    by: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update case_tasks set answer = $4, answered_by = $5, answered_at = now()
         where id = $1 and case_id = $2 and office_code = any($3) and answered_at is null",
    )
    .bind(task_id)
    .bind(case_id)
    .bind(offices)
    .bind(answer)
    .bind(by)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct OfficeOption {
    pub code: String,
    pub name: String,
}

pub async fn offices(tx: &mut TenantTx) -> sqlx::Result<Vec<OfficeOption>> {
    sqlx::query_as("select code, name from offices order by name").fetch_all(tx.conn()).await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ProcedureOption {
    pub slug: String,
    pub title: String,
}

pub async fn procedures_of(tx: &mut TenantTx, offices: &[String]) -> sqlx::Result<Vec<ProcedureOption>> {
    sqlx::query_as("select slug, title from procedures where office_code = any($1) order by title")
        .bind(offices)
        .fetch_all(tx.conn())
        .await
}

/// The workflows of the procedures of these offices (the platform's standard
/// one where a procedure names none).
pub async fn workflows_of(
    tx: &mut TenantTx,
    offices: &[String],
) -> sqlx::Result<Vec<crate::procedure::workflow::Workflow>> {
    let rows: Vec<Option<sqlx::types::Json<crate::procedure::workflow::Workflow>>> =
        sqlx::query_scalar("select workflow from procedures where office_code = any($1)")
            .bind(offices)
            .fetch_all(tx.conn())
            .await?;
    Ok(rows
        .into_iter()
        .map(|w| w.map(|w| w.0).unwrap_or_else(crate::procedure::workflow::Workflow::standard))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_box_understands_numbers_codes_and_names() {
        assert_eq!(parse_search("12"), Search::Registry { year: None, number: 12 });
        assert_eq!(parse_search("2026/12"), Search::Registry { year: Some(2026), number: 12 });
        assert_eq!(parse_search("c_v412-2026-0000012"), Search::Registry { year: Some(2026), number: 12 });
        assert_eq!(parse_search("pr-abc"), Search::Reference("PR-ABC".into()));
        assert_eq!(parse_search("rssmra80a01h501u"), Search::FiscalCode("RSSMRA80A01H501U".into()));
        assert_eq!(parse_search("Rossi"), Search::Name("rossi".into()));
        assert_eq!(parse_search("  "), Search::None);
    }
}

/// An API token as its bearer is authenticated with.
#[derive(Debug, sqlx::FromRow)]
pub struct ApiToken {
    pub name: String,
    pub role: String,
    pub offices: Vec<String>,
    pub scopes: Vec<String>,
}

/// The live token whose secret hashes to `secret_sha256`, marked as used now.
pub async fn use_token(tx: &mut TenantTx, secret_sha256: &[u8]) -> sqlx::Result<Option<ApiToken>> {
    sqlx::query_as(
        "update api_tokens set last_used_at = now()
         where secret_sha256 = $1 and revoked_at is null returning name, role, offices, scopes",
    )
    .bind(secret_sha256)
    .fetch_optional(tx.conn())
    .await
}

/// A new token, of which only the secret's SHA-256 is kept.
pub struct NewApiToken<'a> {
    pub name: &'a str,
    pub secret_sha256: &'a [u8],
    pub role: &'a str,
    pub offices: &'a [String],
    pub scopes: &'a [String],
}

pub async fn insert_token(tx: &mut TenantTx, token: NewApiToken<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into api_tokens (tenant_id, id, name, secret_sha256, role, offices, scopes)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(token.name)
    .bind(token.secret_sha256)
    .bind(token.role)
    .bind(token.offices)
    .bind(token.scopes)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revokes the live token called `name`; whether there was one.
pub async fn revoke_token(tx: &mut TenantTx, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("update api_tokens set revoked_at = now() where name = $1 and revoked_at is null")
        .bind(name)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(done == 1)
}

/// The ente's office codes, sorted.
pub async fn office_codes(tx: &mut TenantTx) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select code from offices order by code").fetch_all(tx.conn()).await
}
