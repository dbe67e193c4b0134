//! One office by hand: create (`/admin/uffici/nuovo`), edit, move in the tree,
//! close and reopen (`/admin/uffici/<code>`). The fields IPA gives are the
//! next synchronisation's to overwrite (the page says so); opening hours and
//! notes are always the ente's. An office cannot be closed while a published
//! procedure uses it, nor moved under itself. Every change is audited.

use std::collections::BTreeMap;

use axum::{
    extract::Path,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    admin::{catalogue::changed, context, Admin, Section},
    audit::{self, Change},
    auth::page::Page,
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    organisation::offices::{self, Office, OfficeFields},
};

/// The office form as posted.
#[derive(Deserialize, Default)]
pub struct OfficeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_code: String,
    #[serde(default)]
    head: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    pec: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    opening_hours: String,
    #[serde(default)]
    notes: String,
}

impl OfficeForm {
    fn fields(&self) -> OfficeFields {
        let line = |s: &str, max: usize| s.trim().chars().take(max).collect::<String>();
        OfficeFields {
            name: line(&self.name, 300),
            parent_code: Some(self.parent_code.trim().to_string()).filter(|p| !p.is_empty()),
            head: line(&self.head, 300),
            email: line(&self.email, 320),
            pec: line(&self.pec, 320),
            phone: line(&self.phone, 60),
            address: line(&self.address, 500),
            opening_hours: line(&self.opening_hours, 1000),
            notes: self.notes.trim().chars().take(4000).collect(),
        }
    }
}

/// An office code: IPA's alphabet; never one of the console's own path words.
fn is_code(code: &str) -> bool {
    (1..=40).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !matches!(code, "nuovo" | "ipa")
}

fn looks_like_email(s: &str) -> bool {
    s.is_empty() || s.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
}

/// The checks of a form, each next to its input.
async fn problems(
    tx: &mut TenantTx,
    code: &str,
    fields: &OfficeFields,
    new: bool,
) -> sqlx::Result<BTreeMap<&'static str, &'static str>> {
    let mut out = BTreeMap::new();
    if new && !is_code(code) {
        out.insert("code", "admin.offices.check_code");
    }
    if fields.name.is_empty() {
        out.insert("name", "admin.offices.check_name");
    }
    for (input, value) in [("email", &fields.email), ("pec", &fields.pec)] {
        if !looks_like_email(value) {
            out.insert(input, "admin.offices.check_email");
        }
    }
    if let Some(parent) = &fields.parent_code {
        match offices::one(tx, parent).await? {
            None => {
                out.insert("parent_code", "admin.offices.check_parent");
            }
            Some(_) if parent == code || (!new && offices::would_cycle(tx, code, parent).await?) => {
                out.insert("parent_code", "admin.offices.check_cycle");
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

async fn form_page(
    page: &Page,
    admin: &Admin,
    office: Option<&Office>,
    (code, fields): (&str, &OfficeFields),
    errors: BTreeMap<&'static str, String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    // Any office but itself may be its parent; the check refuses a descendant.
    let parents: Vec<Office> =
        offices::all(&mut tx).await?.into_iter().filter(|o| o.code != code && !o.closed).collect();
    let used_by = match office {
        Some(o) => offices::published_procedures_of(&mut tx, &o.code).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let mut context = context(page, admin, Section::Offices);
    context.insert("office", &office);
    context.insert("code", code);
    context.insert("fields", fields);
    context.insert("parents", &parents);
    context.insert("used_by", &used_by);
    context.insert("errors", &errors);
    page.render_with(status, "admin/office.html", &context)
}

fn words(page: &Page, problems: BTreeMap<&'static str, &'static str>) -> BTreeMap<&'static str, String> {
    problems.into_iter().map(|(input, key)| (input, page.text(&Text::new(key)))).collect()
}

pub async fn new_office(page: Page, admin: Admin) -> AppResult<Response> {
    form_page(&page, &admin, None, ("", &OfficeFields::default()), BTreeMap::new(), StatusCode::OK).await
}

pub async fn create(page: Page, admin: Admin, Form(form): Form<OfficeForm>) -> AppResult<Response> {
    let (code, fields) = (form.code.trim().to_string(), form.fields());
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let mut problems = problems(&mut tx, &code, &fields, true).await?;
    if problems.is_empty() && !offices::create(&mut tx, &code, &fields).await? {
        problems.insert("code", "admin.offices.check_code_taken");
    }
    if !problems.is_empty() {
        tx.rollback().await?;
        let errors = words(&page, problems);
        return form_page(&page, &admin, None, (&code, &fields), errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    audit_office(&mut tx, &admin, "offices.create", &code, None, Some(json!(fields))).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("/admin/uffici?esito=ufficio-creato#ufficio-{code}")).into_response())
}

pub async fn editor(page: Page, admin: Admin, Path(code): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let office = offices::one(&mut tx, &code).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let fields = OfficeFields::of(&office);
    form_page(&page, &admin, Some(&office), (&code, &fields), BTreeMap::new(), StatusCode::OK).await
}

pub async fn save(
    page: Page,
    admin: Admin,
    Path(code): Path<String>,
    Form(form): Form<OfficeForm>,
) -> AppResult<Response> {
    let fields = form.fields();
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let office = offices::one(&mut tx, &code).await?.ok_or(AppError::NotFound)?;
    let problems = problems(&mut tx, &code, &fields, false).await?;
    if !problems.is_empty() {
        tx.rollback().await?;
        let errors = words(&page, problems);
        return form_page(&page, &admin, Some(&office), (&code, &fields), errors, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    let before = OfficeFields::of(&office);
    if before != fields {
        offices::update(&mut tx, &code, &fields).await?;
        audit_office(&mut tx, &admin, "offices.update", &code, Some(json!(before)), Some(json!(fields))).await?;
    }
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("/admin/uffici?esito=ufficio-salvato#ufficio-{code}")).into_response())
}

/// Closes or reopens (`close` false) an office.
async fn set_closed(page: Page, admin: Admin, code: String, close: bool) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let office = offices::one(&mut tx, &code).await?.ok_or(AppError::NotFound)?;
    if close && !offices::published_procedures_of(&mut tx, &code).await?.is_empty() {
        tx.rollback().await?;
        // The page lists them; nothing changes until they move.
        let errors = BTreeMap::from([("close", page.text(&Text::new("admin.offices.check_in_use")))]);
        let fields = OfficeFields::of(&office);
        return form_page(&page, &admin, Some(&office), (&code, &fields), errors, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    if office.closed != close {
        offices::set_closed(&mut tx, &code, close).await?;
        let action = if close { "offices.close" } else { "offices.reopen" };
        audit_office(&mut tx, &admin, action, &code, None, None).await?;
    }
    changed(&page.state, tx).await?;
    let outcome = if close { "ufficio-chiuso" } else { "ufficio-riaperto" };
    Ok(Redirect::to(&format!("/admin/uffici?esito={outcome}#ufficio-{code}")).into_response())
}

pub async fn close(page: Page, admin: Admin, Path(code): Path<String>) -> AppResult<Response> {
    set_closed(page, admin, code, true).await
}

pub async fn reopen(page: Page, admin: Admin, Path(code): Path<String>) -> AppResult<Response> {
    set_closed(page, admin, code, false).await
}

async fn audit_office(
    tx: &mut TenantTx,
    admin: &Admin,
    action: &str,
    code: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> sqlx::Result<()> {
    let change = Change { action, object_type: "office", object_id: code.to_string(), before, after };
    audit::append(tx, &admin.actor, change).await?;
    Ok(())
}
