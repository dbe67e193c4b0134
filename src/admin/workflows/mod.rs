//! The workflow editor: a procedure draft's statuses, transitions, timers and
//! document templates, drawn (`procedure::workflow_picture`) and edited without
//! JavaScript. Like the form builder, every edit makes a whole new workflow and
//! runs the loader's own check on it (`Workflow::problem`): a workflow the
//! loader would refuse is never saved, and the message is shown next to the
//! input it is about. Keys are made from labels when an element is created and
//! never change: cases started on an earlier revision keep naming them.

pub mod elements;

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};

use super::{
    catalogue::Outcome,
    context,
    db::{self, OfficeChoice, ProcedureRow},
    Admin, Section,
};
use crate::{
    auth::page::Page,
    catalog::revisions::{self, Draft},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::{
        clock::ClockEffect,
        workflow::{Element, Phase, Reason, Workflow, WorkflowProblem},
        workflow_picture,
    },
};

/// What an editor page needs of the draft and the ente.
pub(super) struct Loaded {
    row: ProcedureRow,
    draft: Draft,
    offices: Vec<OfficeChoice>,
    /// The roles a transition may name: the ente's, and any the workflow already names.
    roles: Vec<String>,
}

impl Loaded {
    /// The draft's workflow: its own, or the standard one it would otherwise use
    /// (the first edit makes that a workflow of its own).
    fn workflow(&self) -> (Workflow, bool) {
        workflow_of(&self.draft)
    }

    fn office_codes(&self) -> Vec<&str> {
        self.offices.iter().map(|o| o.code.as_str()).collect()
    }
}

fn workflow_of(draft: &Draft) -> (Workflow, bool) {
    match &draft.content.workflow {
        Some(w) => (w.clone(), false),
        None => (Workflow::standard(), true),
    }
}

async fn load(page: &Page, slug: &str) -> AppResult<Loaded> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    let draft = revisions::draft(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    let offices = db::offices(&mut tx).await?;
    let mut roles = db::staff_roles(&mut tx).await?;
    tx.commit().await?;
    let (workflow, _) = workflow_of(&draft);
    for role in workflow.transitions.iter().flat_map(|t| &t.roles) {
        if !roles.contains(role) {
            roles.push(role.clone());
        }
    }
    Ok(Loaded { row, draft, offices, roles })
}

/// A refused edit: what is wrong and where, and the answer's status (422, or
/// 409 when someone else saved the draft in between).
pub(super) struct Refusal {
    problem: WorkflowProblem,
    status: StatusCode,
}

/// Saves `workflow` as the draft's (none: back to the standard one) if the
/// loader's check passes and nobody saved since `version`.
async fn save(
    page: &Page,
    admin: &Admin,
    loaded: &Loaded,
    workflow: Option<Workflow>,
    version: i32,
) -> AppResult<Result<(), Refusal>> {
    if let Some(problem) = workflow.as_ref().and_then(|w| w.problem(&loaded.office_codes())) {
        return Ok(Err(Refusal { problem, status: StatusCode::UNPROCESSABLE_ENTITY }));
    }
    let mut content = loaded.draft.content.clone();
    content.workflow = workflow;
    let saved = super::procedures::save_content(page, admin, &loaded.row.slug, &content, version).await?;
    Ok(saved.map_err(|message| Refusal {
        problem: WorkflowProblem { at: Element::Workflow, input: "conflict", message },
        status: StatusCode::CONFLICT,
    }))
}

/// A problem in the visitor's words, naming the element it is about.
fn placed(page: &Page, workflow: &Workflow, problem: &WorkflowProblem) -> String {
    if problem.input == "conflict" {
        return page.text(&problem.message);
    }
    page.text(&problem.placed(workflow))
}

fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::None => "none",
        Reason::Optional => "optional",
        Reason::Required => "required",
    }
}

#[derive(Serialize)]
struct TransitionLine {
    key: String,
    label: String,
    from: Vec<String>,
    to: String,
    roles: Vec<String>,
    reason: &'static str,
}

#[derive(Serialize)]
struct TimerLine {
    number: usize,
    status: String,
    after_days: u32,
    /// The reminder's text, or the transition's label (silence-as-consent).
    remind: Option<String>,
    transition: Option<String>,
}

async fn editor_page(
    page: &Page,
    admin: &Admin,
    loaded: &Loaded,
    (workflow, standard): (&Workflow, bool),
    outcome: Option<&'static str>,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let label_of = |key: &str| workflow.status(key).map(|s| s.label.clone()).unwrap_or_else(|| key.to_string());
    let transitions: Vec<TransitionLine> = workflow
        .transitions
        .iter()
        .map(|t| TransitionLine {
            key: t.key.clone(),
            label: t.label.clone(),
            from: t.from.iter().map(|f| label_of(f)).collect(),
            to: label_of(&t.to),
            roles: t.roles.clone(),
            reason: reason_name(t.reason),
        })
        .collect();
    let timers: Vec<TimerLine> = workflow
        .timers
        .iter()
        .enumerate()
        .map(|(i, t)| TimerLine {
            number: i + 1,
            status: label_of(&t.status),
            after_days: t.after_days,
            remind: t.remind.clone(),
            transition: t.transition.as_ref().map(|k| workflow.place(&Element::Transition(k.clone()))),
        })
        .collect();
    // The draft as saved may already be wrong (a recipe applied before this
    // check existed, an office closed since): say so, so it is fixed before publishing.
    let problem = workflow.problem(&loaded.office_codes()).map(|p| placed(page, workflow, &p));
    let title = page.text(&Text::new("admin.workflow.picture_title").with("title", &loaded.draft.content.title));
    let description = page.text(
        &Text::new("admin.workflow.picture_desc")
            .with("statuses", workflow.statuses.len())
            .with("transitions", transitions.len()),
    );
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("procedure", &loaded.row);
    context.insert("draft", &loaded.draft);
    context.insert("standard", &standard);
    let phase_name = |phase: Phase| page.text(&Text::new(format!("cases.status.{}", phase.as_str())));
    context.insert("picture", &workflow_picture::draw(workflow, &title, &description, &phase_name));
    context.insert("workflow", workflow);
    context.insert("transitions", &transitions);
    context.insert("timers", &timers);
    context.insert("problem", &problem);
    context.insert("outcome", &outcome);
    context.insert("refusal", &refusal.as_ref().map(|r| placed(page, workflow, &r.problem)));
    let status = refusal.map(|r| r.status).unwrap_or(StatusCode::OK);
    page.render_with(status, "admin/workflow.html", &context)
}

pub async fn page(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Query(outcome): Query<Outcome>,
) -> AppResult<Response> {
    let loaded = load(&page, &slug).await?;
    let (workflow, standard) = loaded.workflow();
    editor_page(&page, &admin, &loaded, (&workflow, standard), outcome.message(), None).await
}

/// One edit of the workflow as a whole, from the editor page's buttons.
#[derive(Deserialize)]
pub struct StructureForm {
    version: i32,
    action: String,
    #[serde(default)]
    key: String,
    /// A timer's number (from 1).
    #[serde(default)]
    n: usize,
    #[serde(default)]
    initial: String,
    #[serde(default)]
    clock: String,
}

pub async fn edit_structure(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(input): Form<StructureForm>,
) -> AppResult<Response> {
    let loaded = load(&page, &slug).await?;
    let (mut workflow, standard) = loaded.workflow();
    let outcome = match input.action.as_str() {
        "standard" => {
            let saved = save(&page, &admin, &loaded, None, input.version).await?;
            return finish(&page, &admin, &loaded, (&workflow, standard), saved, "flusso-standard").await;
        }
        "own" => "flusso-salvato",
        "settings" => {
            workflow.initial = input.initial.trim().to_string();
            workflow.clock_on_integration = match input.clock.as_str() {
                "interrupt" => ClockEffect::Interrupt,
                _ => ClockEffect::Suspend,
            };
            "flusso-salvato"
        }
        "remove_status" => {
            let at = workflow.statuses.iter().position(|s| s.key == input.key).ok_or(AppError::NotFound)?;
            let uses = workflow.uses_of_status(&input.key);
            if !uses.is_empty() {
                // Removing it would leave arrows into nowhere: say which to change first.
                let message = Text::new("admin.workflow.status_in_use").with("uses", uses.join(", "));
                let problem = WorkflowProblem { at: Element::Status(input.key.clone()), input: "remove", message };
                let refusal = Refusal { problem, status: StatusCode::UNPROCESSABLE_ENTITY };
                return editor_page(&page, &admin, &loaded, (&workflow, standard), None, Some(refusal)).await;
            }
            workflow.statuses.remove(at);
            // Its timers go with it: they are armed only in it.
            workflow.timers.retain(|t| t.status != input.key);
            "flusso-salvato"
        }
        "remove_transition" => {
            let at = workflow.transitions.iter().position(|t| t.key == input.key).ok_or(AppError::NotFound)?;
            workflow.transitions.remove(at);
            "flusso-salvato"
        }
        "remove_timer" => {
            let at = input.n.checked_sub(1).filter(|i| *i < workflow.timers.len()).ok_or(AppError::NotFound)?;
            workflow.timers.remove(at);
            "flusso-salvato"
        }
        "remove_document" => {
            let at = workflow.documents.iter().position(|d| d.key == input.key).ok_or(AppError::NotFound)?;
            workflow.documents.remove(at);
            "flusso-salvato"
        }
        _ => return Err(AppError::BadRequest("unknown workflow action")),
    };
    let saved = save(&page, &admin, &loaded, Some(workflow.clone()), input.version).await?;
    finish(&page, &admin, &loaded, (&workflow, false), saved, outcome).await
}

async fn finish(
    page: &Page,
    admin: &Admin,
    loaded: &Loaded,
    workflow: (&Workflow, bool),
    saved: Result<(), Refusal>,
    outcome: &str,
) -> AppResult<Response> {
    match saved {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/procedure/{}/flusso?esito={outcome}", loaded.row.slug)).into_response())
        }
        // The refused workflow is shown as it would have been, with the message on it.
        Err(refusal) => editor_page(page, admin, loaded, workflow, None, Some(refusal)).await,
    }
}
