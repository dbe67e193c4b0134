//! A procedure's workflow: statuses, the transitions between them and who may
//! run each, what happens on entering a status, and timers. Written in the
//! procedure's TOML file (`[workflow]`), checked at load with messages that
//! name the culprit, snapshotted on each case so a case stays on the version
//! it was started on.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::clock::ClockEffect;
use crate::i18n::{Catalogues, Text};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// What an integration request does to the legal clock.
    #[serde(default)]
    pub clock_on_integration: ClockEffect,
    /// The status a case enters when it is submitted.
    pub initial: String,
    pub statuses: Vec<Status>,
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub timers: Vec<Timer>,
    /// Templates of the documents the office issues (`generate_document`).
    #[serde(default)]
    pub documents: Vec<DocumentTemplate>,
}

/// Where a status stands for the citizen's list and the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Submitted,
    InProgress,
    AwaitingIntegration,
    Accepted,
    Rejected,
    Closed,
}

impl Phase {
    /// The value of `cases.status` (the names are `CaseStatus`'s).
    pub fn as_str(self) -> &'static str {
        super::status::CaseStatus::from(self).as_str()
    }
}

/// Bootstrap Italia's contextual colours, for the status badge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    #[default]
    Primary,
    Secondary,
    Success,
    Warning,
    Danger,
    Info,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub key: String,
    /// What the citizen reads.
    pub label: String,
    #[serde(default)]
    pub colour: Colour,
    pub phase: Phase,
    /// No transition leaves it except a reopening; the clock stops.
    #[serde(default, rename = "final")]
    pub is_final: bool,
    /// For an `awaiting_integration` status: where the case goes once every
    /// request is answered.
    #[serde(default)]
    pub resume_to: Option<String>,
    #[serde(default)]
    pub on_enter: Vec<Action>,
}

/// What a transition asks the operator for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    #[default]
    None,
    Optional,
    Required,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub key: String,
    /// The button the operator sees.
    pub label: String,
    pub from: Vec<String>,
    pub to: String,
    /// Roles that may run it (Casbin roles of the ente); the operator must
    /// also be allowed to process cases of the case's office.
    pub roles: Vec<String>,
    #[serde(default)]
    pub reason: Reason,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// An e-mail and a message to the citizen with this text.
    NotifyCitizen(String),
    /// Generate the named document (see `documents`), register and file it.
    GenerateDocument(String),
    /// POST the case's summary to this URL (through the job queue).
    Webhook(String),
    /// Ask an office for something (an internal task on the case).
    Task { office: String, text: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timer {
    /// Armed when the case enters this status; void if it has left it.
    pub status: String,
    pub after_days: u32,
    /// A reminder e-mailed to the office.
    #[serde(default)]
    pub remind: Option<String>,
    /// A transition run by the system (silence-as-consent).
    #[serde(default)]
    pub transition: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentTemplate {
    pub key: String,
    pub title: String,
    /// Tera text: `case`, `citizen`, `reason`, `ente`, `today` are in scope.
    pub body: String,
}

impl Workflow {
    pub fn status(&self, key: &str) -> Option<&Status> {
        self.statuses.iter().find(|s| s.key == key)
    }

    pub fn transition(&self, key: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.key == key)
    }

    /// Transitions offered from a status.
    pub fn from_status<'a>(&'a self, status: &'a str) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions.iter().filter(move |t| t.from.iter().any(|f| f == status))
    }

    pub fn document(&self, key: &str) -> Option<&DocumentTemplate> {
        self.documents.iter().find(|d| d.key == key)
    }

    /// Checks every reference; `offices` are the ente's office codes. The
    /// loader (`tenant apply`) and the console's workflow editor run this one
    /// check: the first problem found, with the element and the input it is
    /// about, so the editor can show it next to them.
    pub fn problem(&self, offices: &[&str]) -> Option<WorkflowProblem> {
        let refuse = |at: Element, input: &'static str, key: &'static str| {
            Some(WorkflowProblem { at, input, message: Text::new(key) })
        };
        // The same, naming the key the element points to (what the loader's reader looks for).
        let named = |at: Element, input: &'static str, key: &'static str, name: &str| {
            Some(WorkflowProblem { at, input, message: Text::new(key).with("name", name) })
        };
        let status_at = |key: &str| Element::Status(key.to_string());
        let mut keys = HashSet::new();
        for s in &self.statuses {
            if !is_key(&s.key) || !keys.insert(s.key.as_str()) {
                return refuse(status_at(&s.key), "key", "workflow.check.status_key");
            }
            if s.label.trim().is_empty() {
                return refuse(status_at(&s.key), "label", "workflow.check.status_label");
            }
        }
        if self.statuses.is_empty() {
            return refuse(Element::Workflow, "initial", "workflow.check.no_statuses");
        }
        match self.status(&self.initial) {
            None => return named(Element::Workflow, "initial", "workflow.check.initial_unknown", &self.initial),
            Some(s) if s.is_final => return refuse(Element::Workflow, "initial", "workflow.check.initial_final"),
            Some(s) if s.phase == Phase::AwaitingIntegration => {
                return refuse(Element::Workflow, "initial", "workflow.check.initial_waiting")
            }
            Some(_) => {}
        }
        for s in &self.statuses {
            let at = || status_at(&s.key);
            if s.is_final && s.phase == Phase::AwaitingIntegration {
                return refuse(at(), "final", "workflow.check.final_waiting");
            }
            match (s.phase, &s.resume_to) {
                (Phase::AwaitingIntegration, None) => {
                    return refuse(at(), "resume_to", "workflow.check.resume_missing")
                }
                (Phase::AwaitingIntegration, Some(to)) => match self.status(to) {
                    Some(target) if target.phase != Phase::AwaitingIntegration && !target.is_final => {}
                    _ => return refuse(at(), "resume_to", "workflow.check.resume_target"),
                },
                (_, Some(_)) => return refuse(at(), "resume_to", "workflow.check.resume_not_waiting"),
                _ => {}
            }
            for action in &s.on_enter {
                let key = match action {
                    Action::GenerateDocument(key) if self.document(key).is_none() => "workflow.check.document_unknown",
                    Action::Task { office, .. } if !offices.contains(&office.as_str()) => "workflow.check.task_office",
                    Action::Task { text, .. } if text.trim().is_empty() => "workflow.check.task_text",
                    // The URL itself is never named: it may carry a token.
                    // Whether plain http may be used (an allowed host) is
                    // decided at delivery (`jobs::outbound`).
                    Action::Webhook(url) if !is_webhook_url(url) => "workflow.check.webhook",
                    Action::NotifyCitizen(text) if text.trim().is_empty() => "workflow.check.notify_empty",
                    _ => continue,
                };
                return refuse(at(), "actions", key);
            }
        }
        let mut keys = HashSet::new();
        for t in &self.transitions {
            let at = || Element::Transition(t.key.clone());
            if !is_key(&t.key) || !keys.insert(t.key.as_str()) {
                return refuse(at(), "key", "workflow.check.transition_key");
            }
            if t.label.trim().is_empty() {
                return refuse(at(), "label", "workflow.check.transition_label");
            }
            if t.from.is_empty() {
                return refuse(at(), "from", "workflow.check.transition_no_from");
            }
            if t.roles.is_empty() {
                return refuse(at(), "roles", "workflow.check.transition_no_roles");
            }
            if let Some(unknown) = t.from.iter().find(|f| self.status(f).is_none()) {
                return named(at(), "from", "workflow.check.transition_from_unknown", unknown);
            }
            let Some(to) = self.status(&t.to) else {
                return named(at(), "to", "workflow.check.transition_to_unknown", &t.to);
            };
            // The citizen's answer moves a waiting case on (`resume_to`); an
            // office may still close it, but not send it round the loop.
            let waiting = |key: &String| self.status(key).is_some_and(|s| s.phase == Phase::AwaitingIntegration);
            if to.phase == Phase::AwaitingIntegration && t.from.iter().any(waiting) {
                return refuse(at(), "to", "workflow.check.waiting_to_waiting");
            }
        }
        for (i, timer) in self.timers.iter().enumerate() {
            let at = || Element::Timer(i);
            if self.status(&timer.status).is_none() {
                return named(at(), "status", "workflow.check.timer_status", &timer.status);
            }
            if timer.after_days == 0 || timer.after_days > 3650 {
                return refuse(at(), "after_days", "workflow.check.timer_days");
            }
            match (&timer.remind, &timer.transition) {
                (None, None) | (Some(_), Some(_)) => return refuse(at(), "remind", "workflow.check.timer_one_of"),
                (Some(text), None) if text.trim().is_empty() => {
                    return refuse(at(), "remind", "workflow.check.timer_remind_empty")
                }
                (None, Some(t)) => match self.transition(t) {
                    Some(tr) if tr.from.contains(&timer.status) => {}
                    _ => return refuse(at(), "transition", "workflow.check.timer_transition"),
                },
                _ => {}
            }
        }
        let mut keys = HashSet::new();
        for d in &self.documents {
            let at = || Element::Document(d.key.clone());
            if !is_key(&d.key) || !keys.insert(d.key.as_str()) {
                return refuse(at(), "key", "workflow.check.document_key");
            }
            if d.title.trim().is_empty() {
                return refuse(at(), "title", "workflow.check.document_title");
            }
            let mut tera = tera::Tera::default();
            if let Err(e) = tera.add_raw_template(&d.key, &d.body) {
                // Tera's own words (English) say where the template breaks.
                let detail = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| e.to_string());
                return Some(WorkflowProblem {
                    at: at(),
                    input: "body",
                    message: Text::new("workflow.check.document_template").with("detail", detail),
                });
            }
        }
        None
    }

    /// [`problem`](Self::problem) in English, naming the element: what the
    /// loader prints.
    pub fn check(&self, offices: &[&str]) -> Result<(), String> {
        match self.problem(offices) {
            None => Ok(()),
            Some(p) => Err(p.english(self)),
        }
    }

    /// What the editor calls an element: its label (a timer by its status's).
    pub fn place(&self, at: &Element) -> String {
        let status_label = |key: &str| self.status(key).map(|s| s.label.clone()).unwrap_or_else(|| key.to_string());
        match at {
            // The workflow's own settings: named by the status a case starts in.
            Element::Workflow => status_label(&self.initial),
            Element::Status(key) => status_label(key),
            Element::Transition(key) => self.transition(key).map(|t| t.label.clone()).unwrap_or_else(|| key.clone()),
            Element::Timer(i) => self.timers.get(*i).map(|t| status_label(&t.status)).unwrap_or_default(),
            Element::Document(key) => self.document(key).map(|d| d.title.clone()).unwrap_or_else(|| key.clone()),
        }
    }

    /// The status or transition keys that reach `key` (what blocks its removal).
    pub fn uses_of_status(&self, key: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .transitions
            .iter()
            .filter(|t| t.to == key || t.from.iter().any(|f| f == key))
            .map(|t| t.label.clone())
            .collect();
        out.extend(self.statuses.iter().filter(|s| s.resume_to.as_deref() == Some(key)).map(|s| s.label.clone()));
        out
    }

    /// The workflow of procedures that declare none: received, in progress,
    /// integration (suspending the clock), accepted with a final act, rejected
    /// with reasons, closed; reopening by an admin.
    pub fn standard() -> Self {
        toml::from_str(STANDARD).expect("the standard workflow parses")
    }
}

/// The part of a workflow a problem is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    /// The workflow's own settings (its initial status, its clock rule).
    Workflow,
    Status(String),
    Transition(String),
    /// A timer, by its position.
    Timer(usize),
    Document(String),
}

/// What is wrong with a workflow: the element, the editor's input that holds
/// the culprit (`label`, `resume_to`, `from`…) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowProblem {
    pub at: Element,
    pub input: &'static str,
    pub message: Text,
}

impl WorkflowProblem {
    /// The message for the procedure's editors, naming the element it is about.
    pub fn placed(&self, workflow: &Workflow) -> Text {
        Text::new("admin.check.workflow")
            .with("place", workflow.place(&self.at))
            .with_text("detail", self.message.clone())
    }

    fn english(&self, workflow: &Workflow) -> String {
        let message = Catalogues::english().text("en", &self.message);
        match &self.at {
            Element::Workflow => format!("workflow: {message}"),
            Element::Status(key) => format!("workflow: status {key:?}: {message}"),
            Element::Transition(key) => format!("workflow: transition {key:?}: {message}"),
            Element::Timer(i) => {
                let status = workflow.timers.get(*i).map(|t| t.status.as_str()).unwrap_or_default();
                format!("workflow: timer {} (status {status:?}): {message}", i + 1)
            }
            Element::Document(key) => format!("workflow: document {key:?}: {message}"),
        }
    }
}

/// The longest webhook URL a workflow may name.
pub const WEBHOOK_URL_MAX: usize = 2048;

fn is_webhook_url(url: &str) -> bool {
    url.len() <= WEBHOOK_URL_MAX
        && url::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some_and(|h| !h.is_empty()))
}

fn is_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 60 && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A recipe, like a procedure's own `[workflow]`: its labels are the ente's
/// words (recipes are written in the ente's language), not the platform's.
const STANDARD: &str = include_str!("standard_workflow.toml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_need_an_http_url_with_a_host_and_the_error_never_shows_it() {
        for (url, ok) in [
            ("https://hooks.example.it/x?sig=s3cret", true),
            ("http://127.0.0.1:9000/hook", true),
            ("ftp://hooks.example.it/x?sig=s3cret", false),
            ("https://?sig=s3cret", false),
            ("hooks.example.it/x?sig=s3cret", false),
            ("file:///etc/passwd?sig=s3cret", false),
        ] {
            let mut w = Workflow::standard();
            w.statuses[1].on_enter.push(Action::Webhook(url.into()));
            match w.check(&[]) {
                Ok(()) => assert!(ok, "{url} accepted"),
                Err(e) => {
                    assert!(!ok, "{url} refused: {e}");
                    assert!(!e.contains("s3cret") && !e.contains("/x"), "{e}");
                }
            }
        }
        let mut w = Workflow::standard();
        w.statuses[1].on_enter.push(Action::Webhook(format!("https://h.example.it/{}", "a".repeat(WEBHOOK_URL_MAX))));
        assert!(w.check(&[]).is_err(), "too long");
    }

    #[test]
    fn the_standard_workflow_is_valid() {
        Workflow::standard().check(&[]).unwrap();
    }

    #[test]
    fn broken_workflows_are_refused_with_the_culprit_named() {
        let problem = |w: &Workflow, offices: &[&str]| w.problem(offices).expect("refused");
        let mut w = Workflow::standard();
        w.transitions[0].to = "nowhere".into();
        let p = problem(&w, &[]);
        assert_eq!((p.at, p.input), (Element::Transition("prendi_in_carico".into()), "to"));
        assert!(w.check(&[]).unwrap_err().contains("\"prendi_in_carico\""));
        let mut w = Workflow::standard();
        w.statuses[2].resume_to = None;
        assert_eq!(problem(&w, &[]).input, "resume_to");
        let mut w = Workflow::standard();
        w.statuses[1].on_enter.push(Action::Task { office: "UO-X".into(), text: "Parere".into() });
        let p = problem(&w, &["UO-Y"]);
        assert_eq!(
            (p.at, p.message.key.as_ref()),
            (Element::Status("in_istruttoria".into()), "workflow.check.task_office")
        );
        assert!(w.check(&["UO-X"]).is_ok());
        let mut w = Workflow::standard();
        w.timers.push(Timer {
            status: "presentata".into(),
            after_days: 30,
            remind: None,
            transition: Some("accogli".into()),
        });
        let p = problem(&w, &[]);
        assert_eq!((p.at, p.input), (Element::Timer(w.timers.len() - 1), "transition"));
        assert!(w.check(&[]).unwrap_err().contains("does not leave"), "{}", w.check(&[]).unwrap_err());
        let mut w = Workflow::standard();
        w.documents[0].body = "{{ unclosed".into();
        let p = problem(&w, &[]);
        assert_eq!(p.input, "body");
        assert!(w.check(&[]).unwrap_err().contains("template"));
        let mut w = Workflow::standard();
        w.initial = "integrazione".into();
        assert_eq!(problem(&w, &[]).message.key.as_ref(), "workflow.check.initial_waiting");
    }

    #[test]
    fn every_check_message_is_in_both_languages() {
        let source = include_str!("workflow.rs");
        let keys: Vec<&str> = source
            .split('"')
            .filter(|s| s.starts_with("workflow.check.") && s.len() > "workflow.check.".len())
            .collect();
        assert!(keys.len() > 20, "{keys:?}");
        let words = crate::i18n::Catalogues::for_tests();
        for key in keys {
            for lang in ["it", "en"] {
                let text = words.text(lang, &Text::new(key.to_string()));
                assert!(!text.starts_with(crate::i18n::MISSING_MARK), "{key} missing in {lang}");
            }
        }
    }
}
