//! A procedure draft's workflow, drawn (`procedure::workflow_picture`) and
//! listed: statuses, transitions with who may run them and whether they ask a
//! reason, timers and document templates, with the loader's check of it. The
//! workflow is edited in the procedure's recipe for now (docs/ADMIN.md).

use axum::{extract::Path, response::Response};
use serde::Serialize;

use super::{context, db, Admin, Section};
use crate::{
    auth::page::Page,
    catalog::revisions,
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{workflow::Workflow, workflow_picture},
};

#[derive(Serialize)]
struct TransitionLine {
    label: String,
    from: Vec<String>,
    to: String,
    roles: Vec<String>,
    reason: &'static str,
}

pub async fn page(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let draft = revisions::draft(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let offices = db::offices(&mut tx).await?;
    tx.commit().await?;
    let standard = draft.content.workflow.is_none();
    let workflow = draft.content.workflow.clone().unwrap_or_else(Workflow::standard);
    let label_of = |key: &str| workflow.status(key).map(|s| s.label.clone()).unwrap_or_else(|| key.to_string());
    let transitions: Vec<TransitionLine> = workflow
        .transitions
        .iter()
        .map(|t| TransitionLine {
            label: t.label.clone(),
            from: t.from.iter().map(|f| label_of(f)).collect(),
            to: label_of(&t.to),
            roles: t.roles.clone(),
            reason: match t.reason {
                crate::procedure::workflow::Reason::None => "none",
                crate::procedure::workflow::Reason::Optional => "optional",
                crate::procedure::workflow::Reason::Required => "required",
            },
        })
        .collect();
    let codes: Vec<&str> = offices.iter().map(|o| o.code.as_str()).collect();
    let problem = workflow.check(&codes).err();
    let title = page.text(&Text::new("admin.workflow.picture_title").with("title", &draft.content.title));
    let description = page.text(
        &Text::new("admin.workflow.picture_desc")
            .with("statuses", workflow.statuses.len())
            .with("transitions", transitions.len()),
    );
    let mut context = context(&page, &admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("standard", &standard);
    context.insert("picture", &workflow_picture::draw(&workflow, &title, &description));
    context.insert("workflow", &workflow);
    context.insert("transitions", &transitions);
    context.insert("problem", &problem);
    page.render("admin/workflow.html", &context)
}
