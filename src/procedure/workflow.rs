//! A procedure's workflow: statuses, the transitions between them and who may
//! run each, what happens on entering a status, and timers. Written in the
//! procedure's TOML file (`[workflow]`), checked at load with messages that
//! name the culprit, snapshotted on each case so a case stays on the version
//! it was started on.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::clock::ClockEffect;

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

    /// Checks every reference; `offices` are the ente's office codes.
    pub fn check(&self, offices: &[&str]) -> Result<(), String> {
        let mut keys = HashSet::new();
        for s in &self.statuses {
            if !is_key(&s.key) || !keys.insert(s.key.as_str()) {
                return Err(format!("workflow: status key {:?} is invalid or repeated", s.key));
            }
            if s.label.trim().is_empty() {
                return Err(format!("workflow: status {:?} needs a label", s.key));
            }
        }
        if self.statuses.is_empty() || self.status(&self.initial).is_none() {
            return Err(format!("workflow: initial status {:?} is not among the statuses", self.initial));
        }
        if self.status(&self.initial).is_some_and(|s| s.is_final) {
            return Err("workflow: the initial status cannot be final".into());
        }
        for s in &self.statuses {
            match (s.phase, &s.resume_to) {
                (Phase::AwaitingIntegration, None) => {
                    return Err(format!("workflow: status {:?} waits on the citizen and needs `resume_to`", s.key))
                }
                (Phase::AwaitingIntegration, Some(to)) => match self.status(to) {
                    Some(target) if target.phase != Phase::AwaitingIntegration && !target.is_final => {}
                    _ => {
                        return Err(format!(
                        "workflow: status {:?} resumes to {to:?}, which is not a non-final status that works the case",
                        s.key
                    ))
                    }
                },
                (_, Some(_)) => {
                    return Err(format!(
                        "workflow: only a status with phase awaiting_integration has `resume_to` ({:?})",
                        s.key
                    ))
                }
                _ => {}
            }
            if s.is_final && s.phase == Phase::AwaitingIntegration {
                return Err(format!("workflow: status {:?} cannot be final and wait on the citizen", s.key));
            }
            for action in &s.on_enter {
                match action {
                    Action::GenerateDocument(key) if self.document(key).is_none() => {
                        return Err(format!("workflow: status {:?} generates the unknown document {key:?}", s.key))
                    }
                    Action::Task { office, .. } if !offices.contains(&office.as_str()) => {
                        return Err(format!(
                            "workflow: status {:?} gives a task to the unknown office {office:?}",
                            s.key
                        ))
                    }
                    // The URL itself is never named: it may carry a token.
                    // Whether plain http may be used (an allowed host) is
                    // decided at delivery (`jobs::outbound`).
                    Action::Webhook(url) if !is_webhook_url(url) => {
                        return Err(format!(
                            "workflow: status {:?} has a webhook that is not an https URL with a host \
                             (at most {WEBHOOK_URL_MAX} characters)",
                            s.key
                        ))
                    }
                    Action::NotifyCitizen(text) if text.trim().is_empty() => {
                        return Err(format!("workflow: status {:?} notifies an empty text", s.key))
                    }
                    _ => {}
                }
            }
        }
        let mut keys = HashSet::new();
        for t in &self.transitions {
            if !is_key(&t.key) || !keys.insert(t.key.as_str()) {
                return Err(format!("workflow: transition key {:?} is invalid or repeated", t.key));
            }
            if t.label.trim().is_empty() || t.roles.is_empty() || t.from.is_empty() {
                return Err(format!("workflow: transition {:?} needs a label, `from` and `roles`", t.key));
            }
            for from in &t.from {
                if self.status(from).is_none() {
                    return Err(format!("workflow: transition {:?} leaves the unknown status {from:?}", t.key));
                }
            }
            if self.status(&t.to).is_none() {
                return Err(format!("workflow: transition {:?} goes to the unknown status {:?}", t.key, t.to));
            }
            if t.from.iter().any(|f| self.status(f).is_some_and(|s| s.phase == Phase::AwaitingIntegration)) {
                // The citizen's answer moves such a case on (`resume_to`); an
                // office may still close it, but not send it round the loop.
                if self.status(&t.to).is_some_and(|s| s.phase == Phase::AwaitingIntegration) {
                    return Err(format!("workflow: transition {:?} goes from waiting to waiting", t.key));
                }
            }
        }
        for timer in &self.timers {
            if self.status(&timer.status).is_none() {
                return Err(format!("workflow: a timer is armed in the unknown status {:?}", timer.status));
            }
            if timer.after_days == 0 {
                return Err(format!("workflow: the timer of status {:?} needs after_days > 0", timer.status));
            }
            match (&timer.remind, &timer.transition) {
                (None, None) | (Some(_), Some(_)) => {
                    return Err(format!(
                        "workflow: the timer of status {:?} needs exactly one of `remind` and `transition`",
                        timer.status
                    ))
                }
                (None, Some(t)) => match self.transition(t) {
                    Some(tr) if tr.from.contains(&timer.status) => {}
                    _ => {
                        return Err(format!(
                            "workflow: the timer of status {:?} runs {t:?}, which does not leave that status",
                            timer.status
                        ))
                    }
                },
                _ => {}
            }
        }
        let mut keys = HashSet::new();
        for d in &self.documents {
            if !is_key(&d.key) || !keys.insert(d.key.as_str()) {
                return Err(format!("workflow: document key {:?} is invalid or repeated", d.key));
            }
            let mut tera = tera::Tera::default();
            tera.add_raw_template(&d.key, &d.body)
                .map_err(|e| format!("workflow: document {:?} has a template error: {e}", d.key))?;
        }
        Ok(())
    }

    /// The workflow of procedures that declare none: received, in progress,
    /// integration (suspending the clock), accepted with a final act, rejected
    /// with reasons, closed; reopening by an admin.
    pub fn standard() -> Self {
        toml::from_str(STANDARD).expect("the standard workflow parses")
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
        let mut w = Workflow::standard();
        w.transitions[0].to = "nowhere".into();
        assert!(w.check(&[]).unwrap_err().contains("\"nowhere\""));
        let mut w = Workflow::standard();
        w.statuses[2].resume_to = None;
        assert!(w.check(&[]).unwrap_err().contains("resume_to"));
        let mut w = Workflow::standard();
        w.statuses[1].on_enter.push(Action::Task { office: "UO-X".into(), text: "Parere".into() });
        assert!(w.check(&["UO-Y"]).unwrap_err().contains("UO-X"));
        let mut w = Workflow::standard();
        w.timers.push(Timer {
            status: "presentata".into(),
            after_days: 30,
            remind: None,
            transition: Some("accogli".into()),
        });
        assert!(w.check(&[]).unwrap_err().contains("does not leave"));
        let mut w = Workflow::standard();
        w.documents[0].body = "{{ unclosed".into();
        assert!(w.check(&[]).unwrap_err().contains("template error"));
    }
}
