//! The editor of one workflow element — a status, a transition, a timer or a
//! document template — at `/admin/procedure/<slug>/flusso/<stato|azione|scadenza|documento>`.
//! One form per element, read into [`ElementInput`], applied to a copy of the
//! workflow and saved only if the loader's check passes (`super::save`).

use std::collections::BTreeMap;

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};

use super::{load, placed, reason_name, save, Loaded};
use crate::{
    admin::{catalogue::slug_of, context, Admin, Section},
    auth::page::Page,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::workflow::{
        Action, Colour, DocumentTemplate, Element, Phase, Reason, Status, Timer, Transition, Workflow,
    },
};

const COLOURS: &[(&str, Colour)] = &[
    ("primary", Colour::Primary),
    ("secondary", Colour::Secondary),
    ("success", Colour::Success),
    ("warning", Colour::Warning),
    ("danger", Colour::Danger),
    ("info", Colour::Info),
];

const PHASES: &[(&str, Phase)] = &[
    ("submitted", Phase::Submitted),
    ("in_progress", Phase::InProgress),
    ("awaiting_integration", Phase::AwaitingIntegration),
    ("accepted", Phase::Accepted),
    ("rejected", Phase::Rejected),
    ("closed", Phase::Closed),
];

const REASONS: &[(&str, Reason)] =
    &[("none", Reason::None), ("optional", Reason::Optional), ("required", Reason::Required)];

/// Which element an editor is about, by the URL's last segment.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Status,
    Transition,
    Timer,
    Document,
}

impl Kind {
    fn from_path(segment: &str) -> AppResult<Self> {
        Ok(match segment {
            "stato" => Kind::Status,
            "azione" => Kind::Transition,
            "scadenza" => Kind::Timer,
            "documento" => Kind::Document,
            _ => return Err(AppError::NotFound),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::Transition => "transition",
            Kind::Timer => "timer",
            Kind::Document => "document",
        }
    }
}

/// Which element: an existing one by key (a timer by its number), or a new one.
#[derive(Deserialize, Default)]
pub struct ElementQuery {
    #[serde(default)]
    chiave: String,
}

/// One "on entering" action as the status editor shows it: a kind
/// (`notify_citizen`, `webhook`, `task`, `document:<key>`, or empty to drop it),
/// its text (or URL) and, for a task, the office.
#[derive(Serialize, Default, Clone)]
struct ActionRow {
    kind: String,
    text: String,
    office: String,
}

/// Every element's inputs (those of other kinds are ignored).
#[derive(Serialize, Default, Clone)]
pub struct ElementInput {
    version: i32,
    /// Empty for a new element; a timer's number otherwise.
    key: String,
    /// A status's or a transition's label, a document template's title.
    label: String,
    colour: String,
    phase: String,
    is_final: bool,
    resume_to: String,
    actions: Vec<ActionRow>,
    from: Vec<String>,
    to: String,
    roles: Vec<String>,
    reason: String,
    status: String,
    after_days: String,
    /// What a timer does: `remind` or `transition`.
    does: String,
    remind: String,
    transition: String,
    body: String,
}

impl ElementInput {
    /// The form's body: repeated names (`from`, `roles`, the action rows) make
    /// lists, which `serde_urlencoded` cannot read into a struct.
    fn from_pairs(pairs: Vec<(String, String)>) -> AppResult<Self> {
        let mut input = ElementInput::default();
        for (name, value) in pairs {
            match name.as_str() {
                "version" => input.version = value.trim().parse().map_err(|_| AppError::BadRequest("version"))?,
                "key" => input.key = value,
                "label" => input.label = value,
                "colour" => input.colour = value,
                "phase" => input.phase = value,
                "final" => input.is_final = !value.is_empty(),
                "resume_to" => input.resume_to = value,
                // A row's three inputs come in order: its kind opens it.
                "action_kind" => input.actions.push(ActionRow { kind: value, ..ActionRow::default() }),
                "action_text" => input.actions.last_mut().ok_or(AppError::BadRequest("action row"))?.text = value,
                "action_office" => input.actions.last_mut().ok_or(AppError::BadRequest("action row"))?.office = value,
                "from" if !value.is_empty() => input.from.push(value),
                "to" => input.to = value,
                "roles" if !value.is_empty() => input.roles.push(value),
                "reason" => input.reason = value,
                "status" => input.status = value,
                "after_days" => input.after_days = value,
                "does" => input.does = value,
                "remind" => input.remind = value.replace("\r\n", "\n"),
                "transition" => input.transition = value,
                "body" => input.body = value.replace("\r\n", "\n"),
                _ => {}
            }
        }
        Ok(input)
    }

    /// The inputs showing an existing element, or a new one's defaults.
    fn of(kind: Kind, workflow: &Workflow, key: &str, version: i32) -> AppResult<Self> {
        let mut input = ElementInput { version, key: key.to_string(), ..ElementInput::default() };
        match kind {
            Kind::Status if key.is_empty() => {
                input.colour = "primary".into();
                input.phase = "in_progress".into();
            }
            Kind::Status => {
                let s = workflow.status(key).ok_or(AppError::NotFound)?;
                input.label = s.label.clone();
                input.colour =
                    COLOURS.iter().find(|(_, c)| *c == s.colour).map(|(n, _)| n.to_string()).unwrap_or_default();
                input.phase =
                    PHASES.iter().find(|(_, p)| *p == s.phase).map(|(n, _)| n.to_string()).unwrap_or_default();
                input.is_final = s.is_final;
                input.resume_to = s.resume_to.clone().unwrap_or_default();
                input.actions = s.on_enter.iter().map(row_of).collect();
            }
            Kind::Transition if key.is_empty() => {
                input.roles = vec!["operator".into(), "admin".into()];
                input.reason = "none".into();
            }
            Kind::Transition => {
                let t = workflow.transition(key).ok_or(AppError::NotFound)?;
                input.label = t.label.clone();
                input.from = t.from.clone();
                input.to = t.to.clone();
                input.roles = t.roles.clone();
                input.reason = reason_name(t.reason).into();
            }
            Kind::Timer if key.is_empty() => input.does = "remind".into(),
            Kind::Timer => {
                let t = timer_at(workflow, key).and_then(|i| workflow.timers.get(i)).ok_or(AppError::NotFound)?;
                input.status = t.status.clone();
                input.after_days = t.after_days.to_string();
                input.does = if t.transition.is_some() { "transition" } else { "remind" }.into();
                input.remind = t.remind.clone().unwrap_or_default();
                input.transition = t.transition.clone().unwrap_or_default();
            }
            Kind::Document if key.is_empty() => {}
            Kind::Document => {
                let d = workflow.document(key).ok_or(AppError::NotFound)?;
                input.label = d.title.clone();
                input.body = d.body.clone();
            }
        }
        Ok(input)
    }

    /// Writes the element these inputs describe into `workflow` and says which
    /// it is, or names the input that cannot be read.
    fn apply(&self, kind: Kind, workflow: &mut Workflow) -> Result<Element, (&'static str, Text)> {
        let label: String = self.label.trim().chars().take(200).collect();
        let new = self.key.is_empty();
        match kind {
            Kind::Status => {
                let colour = COLOURS.iter().find(|(n, _)| *n == self.colour).map(|(_, c)| *c).unwrap_or_default();
                let phase = PHASES
                    .iter()
                    .find(|(n, _)| *n == self.phase)
                    .map(|(_, p)| *p)
                    .ok_or(("phase", Text::new("admin.workflow.choose_phase")))?;
                let on_enter = self.actions.iter().filter_map(action_of).collect();
                let key =
                    if new { key_for(&label, "stato", |k| workflow.status(k).is_some()) } else { self.key.clone() };
                let resume_to = Some(self.resume_to.trim().to_string()).filter(|r| !r.is_empty());
                let status =
                    Status { key: key.clone(), label, colour, phase, is_final: self.is_final, resume_to, on_enter };
                match workflow.statuses.iter_mut().find(|s| s.key == key) {
                    Some(s) => *s = status,
                    None => workflow.statuses.push(status),
                }
                Ok(Element::Status(key))
            }
            Kind::Transition => {
                let reason = REASONS.iter().find(|(n, _)| *n == self.reason).map(|(_, r)| *r).unwrap_or_default();
                let key = if new {
                    key_for(&label, "azione", |k| workflow.transition(k).is_some())
                } else {
                    self.key.clone()
                };
                let transition = Transition {
                    key: key.clone(),
                    label,
                    from: self.from.clone(),
                    to: self.to.trim().to_string(),
                    roles: self.roles.clone(),
                    reason,
                };
                match workflow.transitions.iter_mut().find(|t| t.key == key) {
                    Some(t) => *t = transition,
                    None => workflow.transitions.push(transition),
                }
                Ok(Element::Transition(key))
            }
            Kind::Timer => {
                let after_days =
                    self.after_days.trim().parse().map_err(|_| ("after_days", Text::new("admin.form.not_a_number")))?;
                // An empty reminder, or "run an action" with none chosen: the check names it.
                let (remind, transition) = match self.does.as_str() {
                    "transition" => (None, Some(self.transition.trim().to_string())),
                    _ => (Some(self.remind.trim().chars().take(2000).collect()), None),
                };
                let timer = Timer { status: self.status.trim().to_string(), after_days, remind, transition };
                let at = match timer_at(workflow, &self.key) {
                    Some(i) => {
                        workflow.timers[i] = timer;
                        i
                    }
                    None => {
                        workflow.timers.push(timer);
                        workflow.timers.len() - 1
                    }
                };
                Ok(Element::Timer(at))
            }
            Kind::Document => {
                let key = if new {
                    key_for(&label, "documento", |k| workflow.document(k).is_some())
                } else {
                    self.key.clone()
                };
                let body: String = self.body.chars().take(50_000).collect();
                let document = DocumentTemplate { key: key.clone(), title: label, body };
                match workflow.documents.iter_mut().find(|d| d.key == key) {
                    Some(d) => *d = document,
                    None => workflow.documents.push(document),
                }
                Ok(Element::Document(key))
            }
        }
    }
}

/// The existing element of `kind` that `key` names (a timer by its number).
fn element_of(kind: Kind, workflow: &Workflow, key: &str) -> Option<Element> {
    let key = key.to_string();
    match kind {
        Kind::Status => workflow.status(&key).map(|_| Element::Status(key)),
        Kind::Transition => workflow.transition(&key).map(|_| Element::Transition(key)),
        Kind::Timer => timer_at(workflow, &key).map(Element::Timer),
        Kind::Document => workflow.document(&key).map(|_| Element::Document(key)),
    }
}

/// A timer's position from its number in the page (from 1).
fn timer_at(workflow: &Workflow, number: &str) -> Option<usize> {
    number.trim().parse::<usize>().ok()?.checked_sub(1).filter(|i| *i < workflow.timers.len())
}

fn row_of(action: &Action) -> ActionRow {
    match action {
        Action::NotifyCitizen(text) => {
            ActionRow { kind: "notify_citizen".into(), text: text.clone(), ..ActionRow::default() }
        }
        Action::Webhook(url) => ActionRow { kind: "webhook".into(), text: url.clone(), ..ActionRow::default() },
        Action::Task { office, text } => ActionRow { kind: "task".into(), text: text.clone(), office: office.clone() },
        Action::GenerateDocument(key) => ActionRow { kind: format!("document:{key}"), ..ActionRow::default() },
    }
}

/// The action a row describes; a row without a kind is dropped.
fn action_of(row: &ActionRow) -> Option<Action> {
    let text = row.text.trim().to_string();
    Some(match row.kind.as_str() {
        "notify_citizen" => Action::NotifyCitizen(text),
        "webhook" => Action::Webhook(text),
        "task" => Action::Task { office: row.office.trim().to_string(), text },
        kind => Action::GenerateDocument(kind.strip_prefix("document:")?.to_string()),
    })
}

/// A key for a new element from its label: lowercase ASCII with `_`, unique
/// among its kind (`taken`), never changed afterwards.
fn key_for(label: &str, fallback: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut base = slug_of(label).replace('-', "_");
    base.truncate(50);
    let base = base.trim_matches('_').to_string();
    let base = if base.starts_with(|c: char| c.is_ascii_lowercase()) { base } else { format!("{fallback}_{base}") };
    let base = base.trim_end_matches('_').to_string();
    let mut key = base.clone();
    let mut n = 2;
    while taken(&key) {
        key = format!("{base}_{n}");
        n += 1;
    }
    key
}

#[derive(Serialize)]
struct Choice {
    key: String,
    label: String,
}

#[allow(clippy::too_many_arguments)]
async fn element_page(
    page: &Page,
    admin: &Admin,
    loaded: &Loaded,
    workflow: &Workflow,
    kind: Kind,
    input: &ElementInput,
    errors: BTreeMap<&'static str, String>,
    status: StatusCode,
) -> AppResult<Response> {
    let statuses: Vec<Choice> =
        workflow.statuses.iter().map(|s| Choice { key: s.key.clone(), label: s.label.clone() }).collect();
    let transitions: Vec<Choice> =
        workflow.transitions.iter().map(|t| Choice { key: t.key.clone(), label: t.label.clone() }).collect();
    let documents: Vec<Choice> =
        workflow.documents.iter().map(|d| Choice { key: d.key.clone(), label: d.title.clone() }).collect();
    // One empty row to add an action; more after saving.
    let mut input = input.clone();
    input.actions.push(ActionRow::default());
    let heading = match element_of(kind, workflow, &input.key) {
        Some(element) => {
            Text::new(format!("admin.workflow.edit_{}", kind.name())).with("label", workflow.place(&element))
        }
        None => Text::new(format!("admin.workflow.new_{}", kind.name())),
    };
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("heading", &page.text(&heading));
    context.insert("procedure", &loaded.row);
    context.insert("kind", kind.name());
    context.insert("segment", &page_segment(kind));
    context.insert("input", &input);
    context.insert("errors", &errors);
    context.insert("statuses", &statuses);
    context.insert("transitions", &transitions);
    context.insert("documents", &documents);
    context.insert("offices", &loaded.offices);
    context.insert("roles", &loaded.roles);
    context.insert("colours", &COLOURS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    context.insert("phases", &PHASES.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    context.insert("reasons", &REASONS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    page.render_with(status, "admin/workflow_element.html", &context)
}

fn page_segment(kind: Kind) -> &'static str {
    match kind {
        Kind::Status => "stato",
        Kind::Transition => "azione",
        Kind::Timer => "scadenza",
        Kind::Document => "documento",
    }
}

pub async fn editor(
    page: Page,
    admin: Admin,
    Path((slug, segment)): Path<(String, String)>,
    Query(q): Query<ElementQuery>,
) -> AppResult<Response> {
    let kind = Kind::from_path(&segment)?;
    let loaded = load(&page, &slug).await?;
    let (workflow, _) = loaded.workflow();
    let input = ElementInput::of(kind, &workflow, &q.chiave, loaded.draft.version)?;
    element_page(&page, &admin, &loaded, &workflow, kind, &input, BTreeMap::new(), StatusCode::OK).await
}

pub async fn save_element(
    page: Page,
    admin: Admin,
    Path((slug, segment)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let kind = Kind::from_path(&segment)?;
    let input = ElementInput::from_pairs(pairs)?;
    let loaded = load(&page, &slug).await?;
    let (before, _) = loaded.workflow();
    let mut workflow = before.clone();
    if !input.key.is_empty() {
        // Editing an element someone has removed meanwhile.
        ElementInput::of(kind, &before, &input.key, input.version)?;
    }
    let refuse = |errors: BTreeMap<&'static str, String>, status| {
        let (page, admin, loaded, before, input) = (&page, &admin, &loaded, &before, &input);
        async move { element_page(page, admin, loaded, before, kind, input, errors, status).await }
    };
    if matches!(kind, Kind::Status | Kind::Transition | Kind::Document) && input.label.trim().is_empty() {
        let key = match kind {
            Kind::Status => "workflow.check.status_label",
            Kind::Transition => "workflow.check.transition_label",
            _ => "workflow.check.document_title",
        };
        return refuse(BTreeMap::from([("label", page.text(&Text::new(key)))]), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let element = match input.apply(kind, &mut workflow) {
        Ok(element) => element,
        Err((at, message)) => {
            return refuse(BTreeMap::from([(at, page.text(&message))]), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    };
    match save(&page, &admin, &loaded, Some(workflow.clone()), input.version).await? {
        Ok(()) => {
            let anchor = match &element {
                Element::Status(k) => format!("stato-{k}"),
                Element::Transition(k) => format!("azione-{k}"),
                Element::Timer(i) => format!("scadenza-{}", i + 1),
                Element::Document(k) => format!("documento-{k}"),
                Element::Workflow => String::new(),
            };
            Ok(Redirect::to(&format!("/admin/procedure/{slug}/flusso?esito=flusso-salvato#{anchor}")).into_response())
        }
        Err(refusal) => {
            let problem = &refusal.problem;
            let errors = if problem.at == element {
                // The element's own inputs: a generated key is the label's.
                let input_name = match problem.input {
                    "key" | "title" => "label",
                    other => other,
                };
                BTreeMap::from([(input_name, page.text(&problem.message))])
            } else {
                // This edit broke another element (a timer on a transition
                // changed here), or someone saved the draft meanwhile.
                BTreeMap::from([("other", placed(&page, &workflow, problem))])
            };
            refuse(errors, refusal.status).await
        }
    }
}
