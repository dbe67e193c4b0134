//! The domain of procedures and cases, shared by the citizen's counter
//! (`crate::cases`) and the office (`crate::backoffice`), with no HTTP in it:
//! the procedure spec, the form model, the workflow definition and the legal
//! clock; the case, its status and its SQL (cases, events, documents); and the
//! generated documents (receipts, acts).

pub mod assistance;
pub mod case_file;
pub mod clock;
pub mod delegations;
pub mod documents;
pub mod engine;
pub mod form;
pub mod inbox;
pub mod integration_answers;
pub mod integrations;
pub mod messages;
pub mod receipt;
pub mod revision;
pub mod spec;
pub mod status;
pub mod store;
pub mod timers;
pub mod workflow;
pub mod workflow_picture;

use chrono::{DateTime, Utc};

use crate::{config::Settings, fascicolo::Store, i18n::Catalogues};

/// What the domain needs of the running platform: the settings (public links
/// in e-mails), the case-file storage and the catalogues (the words of
/// e-mails, documents and the timeline). Handlers pass `state.env()`.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub settings: &'a Settings,
    pub store: &'a Store,
    pub catalogues: &'a Catalogues,
    /// `None` everywhere but in the demo seeding (`crate::demo`, `dev_pages`
    /// only), which replays an ente's made-up past in chronological order: the
    /// instant the step it runs happened. It dates the registry entry, the
    /// timeline event, the status change and the request the step writes, so a
    /// demo case can be overdue or suspended for weeks on the day it is seeded.
    pub as_of: Option<DateTime<Utc>>,
}

impl Env<'_> {
    /// Now, or the demo's instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or_else(Utc::now)
    }
}
