//! Catalogue SQL. Every function takes the tenant scope (`TenantTx`): row-level
//! security decides what is visible, so no query here filters by tenant itself.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;

use super::revisions;
use crate::{
    audit::Actor,
    db::TenantTx,
    procedure::{
        revision::ProcedureContent,
        spec::{CatalogSpec, Fee},
    },
};

/// Makes the tenant's catalogue match the recipe: offices and categories at
/// once, each procedure's content as a new revision when it changed (refused
/// over a draft edited in the console). Returns the rows it changed and the
/// revisions it published.
pub async fn sync_catalog(
    tx: &mut TenantTx,
    spec: &CatalogSpec,
    actor: &Actor,
) -> anyhow::Result<(u64, Vec<revisions::Published>)> {
    let tenant_id = tx.tenant_id;
    let mut changes = 0;
    let mut published = Vec::new();
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
        let placed: Option<(String, i32, bool, bool)> = sqlx::query_as(
            "select category_slug, position, published, archived from procedures where slug = $1 for update",
        )
        .bind(&p.slug)
        .fetch_optional(tx.conn())
        .await?;
        if placed.is_none() {
            revisions::create(tx, &p.slug, &p.category, &p.content).await?;
            changes += 1;
        }
        // The content goes through the revision mechanism: a new revision when it
        // differs from the published one, never over a draft edited in the console.
        if let Some(draft) = revisions::draft(tx, &p.slug).await? {
            let differs = draft.revision == 0
                || revisions::published(tx, &p.slug).await?.map(|(_, c)| c) != Some(p.content.clone());
            if differs && draft.is_edited() {
                anyhow::bail!(
                    "procedure {:?}: {} edited its draft in the console on {} and it is not published; \
                     publish or discard that draft before applying the recipe",
                    p.slug,
                    draft.updated_by.unwrap_or_default(),
                    draft.updated_at.map(|t| t.format("%d/%m/%Y %H:%M").to_string()).unwrap_or_default()
                );
            }
        }
        if let Some(done) = revisions::publish(tx, &p.slug, &p.content, actor).await? {
            changes += 1;
            published.push(done);
        }
        // Where it sits in the catalogue: as the recipe says, at once.
        changes += sqlx::query(
            "update procedures set category_slug = $2, position = $3, published = true, archived = false
             where slug = $1 and (category_slug, position, published, archived) is distinct from ($2, $3, true, false)",
        )
        .bind(&p.slug)
        .bind(&p.category)
        .bind(p.position.unwrap_or(position as i32))
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
    Ok((changes, published))
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
    /// The office's certified e-mail (from IPA, or typed in the console).
    pub office_pec: String,
}

pub async fn procedure(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<ProcedureDetail>> {
    sqlx::query_as(
        "select p.slug, p.title, p.summary, p.description, p.audience, p.how_to, p.required_documents,
                p.costs, p.fees, p.officer, p.time_limit_days, p.calendar_text, p.legal_basis, p.outcome,
                p.conditions, p.contacts, p.keywords, p.online, p.min_level, p.updated_at,
                c.slug as category_slug, c.name as category_name,
                o.code as office_code, o.name as office_name, o.email as office_email,
                o.phone as office_phone, o.address as office_address, o.opening_hours as office_opening_hours,
                o.pec as office_pec
         from procedures p
         join categories c on c.slug = p.category_slug
         join offices o on o.code = p.office_code
         where p.slug = $1 and p.published",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await
}

/// A procedure the ente took offline (not archived, published once): its
/// public page says it is no longer available online and whom to ask.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Withdrawn {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub contacts: String,
    pub category_slug: String,
    pub category_name: String,
    pub office_name: String,
    pub office_email: String,
    pub office_phone: String,
    pub office_address: String,
    pub office_opening_hours: String,
}

pub async fn withdrawn(tx: &mut TenantTx, slug: &str) -> sqlx::Result<Option<Withdrawn>> {
    sqlx::query_as(
        "select p.slug, p.title, p.summary, p.contacts, c.slug as category_slug, c.name as category_name,
                o.name as office_name, o.email as office_email, o.phone as office_phone,
                o.address as office_address, o.opening_hours as office_opening_hours
         from procedures p
         join categories c on c.slug = p.category_slug
         join offices o on o.code = p.office_code
         where p.slug = $1 and not p.published and not p.archived
           and (p.revision > 0 or exists (select from cases k where k.procedure_slug = p.slug))",
    )
    .bind(slug)
    .fetch_optional(tx.conn())
    .await
}

impl ProcedureDetail {
    /// A draft's content as its public page would show it (the console's
    /// preview): the category and office as they are now.
    pub async fn of_draft(
        tx: &mut TenantTx,
        slug: &str,
        content: &ProcedureContent,
    ) -> sqlx::Result<Option<ProcedureDetail>> {
        let place: Option<(String, String)> = sqlx::query_as(
            "select c.slug, c.name from procedures p join categories c on c.slug = p.category_slug where p.slug = $1",
        )
        .bind(slug)
        .fetch_optional(tx.conn())
        .await?;
        let Some((category_slug, category_name)) = place else { return Ok(None) };
        let office: (String, String, String, String, String, String) =
            sqlx::query_as("select name, email, phone, address, opening_hours, pec from offices where code = $1")
                .bind(&content.office)
                .fetch_optional(tx.conn())
                .await?
                .unwrap_or_default();
        let c = content.clone();
        Ok(Some(ProcedureDetail {
            slug: slug.to_string(),
            title: c.title,
            summary: c.summary,
            description: c.description,
            audience: c.audience,
            how_to: c.how_to,
            required_documents: c.required_documents,
            costs: c.costs,
            fees: Json(c.fees),
            officer: c.officer,
            time_limit_days: c.time_limit_days,
            calendar_text: c.calendar_text,
            legal_basis: c.legal_basis,
            outcome: c.outcome,
            conditions: c.conditions,
            contacts: c.contacts,
            keywords: c.keywords.join(" "),
            online: c.online,
            min_level: c.min_level,
            updated_at: Utc::now(),
            category_slug,
            category_name,
            office_code: c.office,
            office_name: office.0,
            office_email: office.1,
            office_phone: office.2,
            office_address: office.3,
            office_opening_hours: office.4,
            office_pec: office.5,
        }))
    }
}
