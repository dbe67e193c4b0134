//! Catalogue SQL. Every function takes the tenant scope (`TenantTx`): row-level
//! security decides what is visible, so no query here filters by tenant itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use crate::db::TenantTx;
use crate::procedure::spec::{CatalogSpec, Fee};

/// Makes the tenant's catalogue match the recipe. Returns the rows it changed.
pub async fn sync_catalog(tx: &mut TenantTx, spec: &CatalogSpec) -> sqlx::Result<u64> {
    let tenant_id = tx.tenant_id;
    let mut changes = 0;
    for o in &spec.offices {
        changes += sqlx::query(
            "insert into offices (tenant_id, code, name, email, phone, address, opening_hours)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (tenant_id, code) do update set name = excluded.name, email = excluded.email,
                 phone = excluded.phone, address = excluded.address, opening_hours = excluded.opening_hours
             where (offices.name, offices.email, offices.phone, offices.address, offices.opening_hours)
                 is distinct from (excluded.name, excluded.email, excluded.phone, excluded.address, excluded.opening_hours)",
        )
        .bind(tenant_id)
        .bind(&o.code)
        .bind(&o.name)
        .bind(&o.email)
        .bind(&o.phone)
        .bind(&o.address)
        .bind(&o.opening_hours)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    for (position, c) in spec.categories.iter().enumerate() {
        changes += sqlx::query(
            "insert into categories (tenant_id, slug, name, description, position) values ($1, $2, $3, $4, $5)
             on conflict (tenant_id, slug) do update set name = excluded.name,
                 description = excluded.description, position = excluded.position
             where (categories.name, categories.description, categories.position)
                 is distinct from (excluded.name, excluded.description, excluded.position)",
        )
        .bind(tenant_id)
        .bind(&c.slug)
        .bind(&c.name)
        .bind(&c.description)
        .bind(position as i32)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    for (position, p) in spec.procedures.iter().enumerate() {
        changes += sqlx::query(
            "insert into procedures (tenant_id, slug, category_slug, office_code, title, summary, description,
                 audience, how_to, required_documents, costs, fees, officer, time_limit_days, calendar_text,
                 legal_basis, outcome, conditions, contacts, keywords, online, published, position, min_level, form, workflow)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, true, $22, $23, $24, $25)
             on conflict (tenant_id, slug) do update set category_slug = excluded.category_slug,
                 office_code = excluded.office_code, title = excluded.title, summary = excluded.summary,
                 description = excluded.description, audience = excluded.audience, how_to = excluded.how_to,
                 required_documents = excluded.required_documents, costs = excluded.costs, fees = excluded.fees,
                 officer = excluded.officer, time_limit_days = excluded.time_limit_days,
                 calendar_text = excluded.calendar_text, legal_basis = excluded.legal_basis,
                 outcome = excluded.outcome, conditions = excluded.conditions, contacts = excluded.contacts,
                 keywords = excluded.keywords, online = excluded.online, published = true,
                 position = excluded.position, min_level = excluded.min_level, form = excluded.form, workflow = excluded.workflow,
                 updated_at = now()
             where (procedures.category_slug, procedures.office_code, procedures.title, procedures.summary,
                    procedures.description, procedures.audience, procedures.how_to, procedures.required_documents,
                    procedures.costs, procedures.fees, procedures.officer, procedures.time_limit_days,
                    procedures.calendar_text, procedures.legal_basis, procedures.outcome, procedures.conditions,
                    procedures.contacts, procedures.keywords, procedures.online, procedures.published,
                    procedures.position, procedures.min_level, procedures.form, procedures.workflow)
                 is distinct from
                   (excluded.category_slug, excluded.office_code, excluded.title, excluded.summary,
                    excluded.description, excluded.audience, excluded.how_to, excluded.required_documents,
                    excluded.costs, excluded.fees, excluded.officer, excluded.time_limit_days,
                    excluded.calendar_text, excluded.legal_basis, excluded.outcome, excluded.conditions,
                    excluded.contacts, excluded.keywords, excluded.online, excluded.published,
                    excluded.position, excluded.min_level, excluded.form, excluded.workflow)",
        )
        .bind(tenant_id)
        .bind(&p.slug)
        .bind(&p.category)
        .bind(&p.office)
        .bind(&p.title)
        .bind(&p.summary)
        .bind(&p.description)
        .bind(&p.audience)
        .bind(&p.how_to)
        .bind(&p.required_documents)
        .bind(&p.costs)
        .bind(Json(&p.fees))
        .bind(&p.officer)
        .bind(p.time_limit_days)
        .bind(&p.calendar_text)
        .bind(&p.legal_basis)
        .bind(&p.outcome)
        .bind(&p.conditions)
        .bind(&p.contacts)
        .bind(p.keywords.join(" "))
        .bind(p.online)
        .bind(position as i32)
        .bind(p.min_level)
        .bind(p.form.as_ref().map(Json))
        .bind(p.workflow.as_ref().map(Json))
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    // Procedures dropped from the recipe are unpublished, never deleted: cases
    // will refer to them.
    let slugs: Vec<&str> = spec.procedures.iter().map(|p| p.slug.as_str()).collect();
    changes +=
        sqlx::query("update procedures set published = false, updated_at = now() where published and slug <> all($1)")
            .bind(&slugs)
            .execute(tx.conn())
            .await?
            .rows_affected();
    let categories: Vec<&str> = spec.categories.iter().map(|c| c.slug.as_str()).collect();
    changes += sqlx::query(
        "delete from categories c where slug <> all($1)
         and not exists (select from procedures p where p.category_slug = c.slug)",
    )
    .bind(&categories)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(changes)
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct CategoryView {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub procedure_count: i64,
}

/// Categories that hold at least one published procedure, in recipe order.
pub async fn categories(tx: &mut TenantTx) -> sqlx::Result<Vec<CategoryView>> {
    sqlx::query_as(
        "select c.slug, c.name, c.description, count(p.slug) as procedure_count
         from categories c join procedures p on p.category_slug = c.slug and p.published
         group by c.slug, c.name, c.description, c.position order by c.position",
    )
    .fetch_all(tx.conn())
    .await
}

pub async fn category(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<CategoryView>> {
    sqlx::query_as(
        "select c.slug, c.name, c.description, count(p.slug) as procedure_count
         from categories c join procedures p on p.category_slug = c.slug and p.published
         where c.slug = $1 group by c.slug, c.name, c.description",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ProcedureCard {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub category_slug: String,
    pub category_name: String,
    pub online: bool,
}

/// Published procedures, optionally of one category, in catalogue order.
pub async fn procedure_cards(tx: &mut TenantTx, category: Option<&str>) -> sqlx::Result<Vec<ProcedureCard>> {
    sqlx::query_as(
        "select p.slug, p.title, p.summary, p.category_slug, c.name as category_name, p.online
         from procedures p join categories c on c.slug = p.category_slug
         where p.published and ($1::text is null or p.category_slug = $1)
         order by c.position, p.position",
    )
    .bind(category)
    .fetch_all(tx.conn())
    .await
}

/// Full-text search (Italian stemming) with a substring fallback on titles and
/// keywords, so "resid" finds "residenza" too.
pub async fn search(tx: &mut TenantTx, query: &str) -> sqlx::Result<Vec<ProcedureCard>> {
    let like = format!("%{}%", query.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    sqlx::query_as(
        "select p.slug, p.title, p.summary, p.category_slug, c.name as category_name, p.online
         from procedures p join categories c on c.slug = p.category_slug,
              websearch_to_tsquery('italian', $1) q
         where p.published and (p.search @@ q or p.title ilike $2 or p.keywords ilike $2)
         order by ts_rank(p.search, q) desc, p.title
         limit 50",
    )
    .bind(query)
    .bind(like)
    .fetch_all(tx.conn())
    .await
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ProcedureDetail {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub audience: String,
    pub how_to: String,
    pub required_documents: Vec<String>,
    pub costs: String,
    pub fees: Json<Vec<Fee>>,
    pub officer: String,
    pub time_limit_days: i32,
    pub calendar_text: String,
    pub legal_basis: Vec<String>,
    pub outcome: String,
    pub conditions: String,
    pub contacts: String,
    pub keywords: String,
    pub online: bool,
    pub min_level: i16,
    pub updated_at: DateTime<Utc>,
    pub category_slug: String,
    pub category_name: String,
    pub office_code: String,
    pub office_name: String,
    pub office_email: String,
    pub office_phone: String,
    pub office_address: String,
    pub office_opening_hours: String,
}

pub async fn procedure(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<ProcedureDetail>> {
    sqlx::query_as(
        "select p.slug, p.title, p.summary, p.description, p.audience, p.how_to, p.required_documents,
                p.costs, p.fees, p.officer, p.time_limit_days, p.calendar_text, p.legal_basis, p.outcome,
                p.conditions, p.contacts, p.keywords, p.online, p.min_level, p.updated_at,
                c.slug as category_slug, c.name as category_name,
                o.code as office_code, o.name as office_name, o.email as office_email,
                o.phone as office_phone, o.address as office_address, o.opening_hours as office_opening_hours
         from procedures p
         join categories c on c.slug = p.category_slug
         join offices o on o.code = p.office_code
         where p.slug = $1 and p.published",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await
}
