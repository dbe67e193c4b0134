//! Acting for others: a company (VAT number) or another person (fiscal code),
//! declared once with the capacity the citizen acts in, chosen when a case
//! starts and recorded on it (and on its receipt).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    auth::{page::Page, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    input::{normalize_fiscal_code, normalize_vat_number, FormErrors},
    procedure::delegations::{self, active, NewDelegation},
    state::AppState,
    web::CurrentTenant,
};

pub async fn page(page: Page, session: CurrentSession) -> AppResult<Response> {
    render(&page, &session, &DelegationForm::default(), FormErrors::default()).await
}

async fn render(
    page: &Page,
    session: &CurrentSession,
    form: &DelegationForm,
    errors: FormErrors,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let delegations = active(&mut tx, session.user_id).await?;
    tx.commit().await?;
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let mut context = page.context();
    context.insert("delegations", &delegations);
    context.insert("form", form);
    context.insert("errors", &errors);
    page.render_with(status, "cases/delegations.html", &context)
}

#[derive(Default, Deserialize, Serialize)]
pub struct DelegationForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    represented_name: String,
    #[serde(default)]
    represented_code: String,
    #[serde(default)]
    capacity: String,
}

pub async fn add(page: Page, session: CurrentSession, Form(form): Form<DelegationForm>) -> AppResult<Response> {
    let mut errors = FormErrors::default();
    let kind = form.kind.as_str();
    errors.check("kind", matches!(kind, "company" | "person"), "delegations.kind_required");
    let name = form.represented_name.trim();
    errors.check("represented_name", (1..=300).contains(&name.chars().count()), "delegations.name_required");
    let code = match kind {
        "company" => normalize_vat_number(&form.represented_code),
        _ => normalize_fiscal_code(&form.represented_code),
    };
    if code.is_none() {
        let message = if kind == "company" { "delegations.vat_invalid" } else { "validation.fiscal_code" };
        errors.add("represented_code", message);
    }
    let capacity = form.capacity.trim();
    errors.check("capacity", (1..=200).contains(&capacity.chars().count()), "delegations.capacity_required");
    let (true, Some(code)) = (errors.is_empty(), code) else {
        return render(&page, &session, &form, errors).await;
    };
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let new = NewDelegation { kind, represented_name: name, represented_code: &code, capacity };
    delegations::add(&mut tx, session.user_id, new).await?;
    tx.commit().await?;
    Ok(Redirect::to("/area-personale/deleghe").into_response())
}

pub async fn revoke(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: CurrentSession,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let done = delegations::revoke(&mut tx, session.user_id, id).await?;
    tx.commit().await?;
    if !done {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/area-personale/deleghe").into_response())
}
