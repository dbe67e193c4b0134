//! The catalogue tree: categories (create, rename, describe, reorder, remove)
//! and where each procedure sits (category, order, online, archived). These
//! changes apply at once — they are not content, so no revision — and each is
//! audited.

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{context, db, Admin, Section};
use crate::{
    audit::{self, Actor},
    auth::page::Page,
    db::TenantTx,
    error::{AppError, AppResult},
    tenancy::{is_valid_slug, notify_changed},
};

/// Outcomes a redirect may announce (`?esito=`), each a message key.
const OUTCOMES: &[(&str, &str)] = &[
    ("categoria-creata", "admin.outcome.category_created"),
    ("categoria-salvata", "admin.outcome.category_saved"),
    ("categoria-eliminata", "admin.outcome.category_removed"),
    ("procedura-spostata", "admin.outcome.procedure_placed"),
    ("online", "admin.outcome.online"),
    ("offline", "admin.outcome.offline"),
    ("archiviata", "admin.outcome.archived"),
    ("ripristinata", "admin.outcome.restored"),
    ("pubblicata", "admin.outcome.published"),
    ("bozza-salvata", "admin.outcome.draft_saved"),
    ("bozza-scartata", "admin.outcome.draft_discarded"),
    ("procedura-creata", "admin.outcome.procedure_created"),
    ("modulo-salvato", "admin.outcome.form_saved"),
    ("campo-salvato", "admin.outcome.field_saved"),
    ("modulo-generico", "admin.outcome.form_generic"),
    ("flusso-salvato", "admin.outcome.workflow_saved"),
    ("flusso-standard", "admin.outcome.workflow_standard"),
    ("ipa-applicato", "admin.outcome.ipa_applied"),
    ("ipa-invariato", "admin.outcome.ipa_unchanged"),
    ("ipa-scaduto", "admin.outcome.ipa_expired"),
    ("ufficio-creato", "admin.outcome.office_created"),
    ("ufficio-salvato", "admin.outcome.office_saved"),
    ("ufficio-chiuso", "admin.outcome.office_closed"),
    ("ufficio-riaperto", "admin.outcome.office_reopened"),
];

#[derive(Deserialize, Default)]
pub struct Outcome {
    #[serde(default)]
    esito: Option<String>,
}

impl Outcome {
    /// The message key of a known outcome (anything else shows nothing).
    pub fn message(&self) -> Option<&'static str> {
        let code = self.esito.as_deref()?;
        OUTCOMES.iter().find(|(c, _)| *c == code).map(|(_, key)| *key)
    }
}

pub async fn home(page: Page, admin: Admin) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let procedures = db::procedures(&mut tx).await?;
    let categories = db::categories(&mut tx).await?;
    let recent = db::recent_changes(&mut tx, 15).await?;
    tx.commit().await?;
    let mut context = context(&page, &admin, Section::Home);
    context.insert("procedure_count", &procedures.iter().filter(|p| !p.archived).count());
    context.insert("online_count", &procedures.iter().filter(|p| p.published).count());
    context.insert("draft_count", &procedures.iter().filter(|p| p.draft_edited).count());
    context.insert("category_count", &categories.len());
    context.insert("recent", &recent);
    page.render("admin/home.html", &context)
}

#[derive(Serialize)]
struct Branch {
    category: db::CategoryRow,
    procedures: Vec<db::ProcedureRow>,
}

/// The "new category" and "new procedure" forms of the tree page as they come
/// back after a refusal: what was typed and the message (a key) next to the input.
#[derive(Default)]
pub struct Refused {
    pub category: CategoryForm,
    pub category_error: Option<&'static str>,
    pub procedure_title: String,
    /// The input (`title`, `procedure-category`, `procedure-office`) and the message.
    pub procedure_error: Option<(&'static str, &'static str)>,
}

pub async fn tree_page(
    page: &Page,
    admin: &Admin,
    outcome: Option<&'static str>,
    refused: Refused,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let categories = db::categories(&mut tx).await?;
    let procedures = db::procedures(&mut tx).await?;
    let offices = db::offices(&mut tx).await?;
    tx.commit().await?;
    let (archived, live): (Vec<_>, Vec<_>) = procedures.into_iter().partition(|p| p.archived);
    let tree: Vec<Branch> = categories
        .iter()
        .map(|c| Branch {
            category: c.clone(),
            procedures: live.iter().filter(|p| p.category_slug == c.slug).cloned().collect(),
        })
        .collect();
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("tree", &tree);
    context.insert("categories", &categories);
    context.insert("archived", &archived);
    context.insert("offices", &offices);
    context.insert("outcome", &outcome);
    context.insert("new_category", &refused.category);
    let say = |key: &'static str| page.text(&crate::i18n::Text::new(key));
    context.insert("name_error", &refused.category_error.map(say));
    context.insert("procedure_title", &refused.procedure_title);
    let procedure_errors: std::collections::BTreeMap<&str, String> =
        refused.procedure_error.into_iter().map(|(input, key)| (input, say(key))).collect();
    context.insert("procedure_errors", &procedure_errors);
    let refusal = refused.category_error.is_some() || !procedure_errors.is_empty();
    let status = if refusal { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    page.render_with(status, "admin/catalogue.html", &context)
}

pub async fn tree(page: Page, admin: Admin, Query(outcome): Query<Outcome>) -> AppResult<Response> {
    tree_page(&page, &admin, outcome.message(), Refused::default()).await
}

#[derive(Deserialize, Serialize, Default)]
pub struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl CategoryForm {
    fn name(&self) -> String {
        self.name.trim().chars().take(200).collect()
    }

    fn description(&self) -> String {
        self.description.trim().chars().take(1000).collect()
    }
}

/// `Servizi demografici` → `servizi-demografici` (accents folded).
pub fn slug_of(name: &str) -> String {
    let folded: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        })
        .collect();
    let slug = folded.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    slug.chars().take(60).collect::<String>().trim_end_matches('-').to_string()
}

pub async fn create_category(page: Page, admin: Admin, Form(form): Form<CategoryForm>) -> AppResult<Response> {
    let (name, description) = (form.name(), form.description());
    let slug = slug_of(&name);
    if name.is_empty() || !is_valid_slug(&slug) {
        let refused =
            Refused { category: form, category_error: Some("admin.check.category_name"), ..Default::default() };
        return tree_page(&page, &admin, None, refused).await;
    }
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    if !db::create_category(&mut tx, &slug, &name, &description).await? {
        tx.rollback().await?;
        let refused =
            Refused { category: form, category_error: Some("admin.check.category_taken"), ..Default::default() };
        return tree_page(&page, &admin, None, refused).await;
    }
    audit_category(
        &mut tx,
        &admin.actor,
        "category.create",
        &slug,
        None,
        Some(json!({ "name": name, "description": description })),
    )
    .await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to("/admin/catalogo?esito=categoria-creata").into_response())
}

pub async fn category_page(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let category = db::category(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    category_form(&page, &admin, &category, StatusCode::OK, None)
}

fn category_form(
    page: &Page,
    admin: &Admin,
    category: &db::CategoryRow,
    status: StatusCode,
    error: Option<&'static str>,
) -> AppResult<Response> {
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("category", category);
    context.insert("error", &error);
    page.render_with(status, "admin/category.html", &context)
}

pub async fn save_category(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(form): Form<CategoryForm>,
) -> AppResult<Response> {
    let (name, description) = (form.name(), form.description());
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let before = db::category(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    if name.is_empty() {
        tx.rollback().await?;
        let typed = db::CategoryRow { name, description, ..before };
        return category_form(
            &page,
            &admin,
            &typed,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("admin.check.category_name"),
        );
    }
    db::update_category(&mut tx, &slug, &name, &description).await?;
    audit_category(
        &mut tx,
        &admin.actor,
        "category.update",
        &slug,
        Some(json!({ "name": before.name, "description": before.description })),
        Some(json!({ "name": name, "description": description })),
    )
    .await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to("/admin/catalogo?esito=categoria-salvata").into_response())
}

#[derive(Deserialize)]
pub struct Direction {
    direction: String,
}

fn step_of(direction: &str) -> AppResult<i32> {
    match direction {
        "su" => Ok(-1),
        "giu" => Ok(1),
        _ => Err(AppError::BadRequest("unknown direction")),
    }
}

pub async fn move_category(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(form): Form<Direction>,
) -> AppResult<Response> {
    let by = step_of(&form.direction)?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    if !db::move_category(&mut tx, &slug, by).await? {
        return Err(AppError::NotFound);
    }
    audit_category(&mut tx, &admin.actor, "category.move", &slug, None, Some(json!({ "direction": form.direction })))
        .await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("/admin/catalogo#categoria-{slug}")).into_response())
}

pub async fn remove_category(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let before = db::category(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    match db::remove_category(&mut tx, &slug).await? {
        db::Removal::NotFound => Err(AppError::NotFound),
        db::Removal::HoldsProcedures(n) => {
            tx.rollback().await?;
            let mut context = context(&page, &admin, Section::Catalogue);
            context.insert("category", &before);
            context.insert("held", &n);
            page.render_with(StatusCode::CONFLICT, "admin/category_not_empty.html", &context)
        }
        db::Removal::Removed => {
            audit_category(
                &mut tx,
                &admin.actor,
                "category.remove",
                &slug,
                Some(json!({ "name": before.name, "description": before.description })),
                None,
            )
            .await?;
            changed(&page.state, tx).await?;
            Ok(Redirect::to("/admin/catalogo?esito=categoria-eliminata").into_response())
        }
    }
}

/// One change of where a procedure sits: `action` is `category` (with
/// `category`), `up`/`down`, `online`, `offline`, `archive` or `restore`.
#[derive(Deserialize)]
pub struct Placement {
    action: String,
    #[serde(default)]
    category: String,
    /// `procedura`: the button was on the procedure's own page; back there.
    #[serde(default)]
    back: String,
}

pub async fn place_procedure(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(form): Form<Placement>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let before = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let outcome = match form.action.as_str() {
        "category" => {
            db::category(&mut tx, &form.category).await?.ok_or(AppError::BadRequest("unknown category"))?;
            db::place_in(&mut tx, &slug, &form.category).await?;
            "procedura-spostata"
        }
        "up" | "down" => {
            db::move_procedure(&mut tx, &slug, if form.action == "up" { -1 } else { 1 }).await?;
            "procedura-spostata"
        }
        // Online again, or for the first time once it has a published revision.
        "online" if before.revision > 0 => {
            db::set_lifecycle(&mut tx, &slug, true, false).await?;
            "online"
        }
        "offline" => {
            db::set_lifecycle(&mut tx, &slug, false, false).await?;
            "offline"
        }
        "archive" => {
            db::set_lifecycle(&mut tx, &slug, false, true).await?;
            "archiviata"
        }
        "restore" => {
            db::set_lifecycle(&mut tx, &slug, false, false).await?;
            "ripristinata"
        }
        _ => return Err(AppError::BadRequest("unknown action")),
    };
    let after = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let placement = |p: &db::ProcedureRow| json!({ "category": p.category_slug, "position": p.position, "published": p.published, "archived": p.archived });
    audit::append(
        &mut tx,
        &admin.actor,
        audit::Change {
            action: "procedure.place",
            object_type: "procedure",
            object_id: slug.clone(),
            before: Some(placement(&before)),
            after: Some(placement(&after)),
        },
    )
    .await?;
    changed(&page.state, tx).await?;
    // A draft editor's own buttons come back to it; the tree's to the tree.
    let back = match form.back.as_str() {
        "procedura" => format!("/admin/procedure/{slug}?esito={outcome}"),
        _ => format!("/admin/catalogo?esito={outcome}#procedura-{slug}"),
    };
    Ok(Redirect::to(&back).into_response())
}

async fn audit_category(
    tx: &mut TenantTx,
    actor: &Actor,
    action: &str,
    slug: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::append(
        tx,
        actor,
        audit::Change { action, object_type: "category", object_id: slug.to_string(), before, after },
    )
    .await?;
    Ok(())
}

/// Commits a change the public pages show, telling every node to drop what it
/// cached of the ente (pages, catalogue, search): this one at once, so the
/// admin's next look at the public page already shows it; the others on the
/// NOTIFY, within a second.
pub async fn changed(state: &crate::state::AppState, mut tx: TenantTx) -> AppResult<()> {
    let tenant_id = tx.tenant_id;
    notify_changed(tx.conn(), tenant_id).await?;
    tx.commit().await?;
    state.invalidate_tenant_caches();
    Ok(())
}
