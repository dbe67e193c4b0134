//! The case file as its readers see it: the timeline, the documents, the
//! integration requests, the messages, the office, the legal clock. The
//! citizen's page and the office's desk read the same thing; the office also
//! sees the internal events.

use serde::Serialize;

use super::{
    clock::{clock_of, Clock},
    delegations,
    integrations::{self, IntegrationRequest},
    messages::{self, Message},
    store::{self, office_name, Case, Document, Event},
};
use crate::{db::TenantTx, i18n::Text};

/// Who reads the file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Citizen,
    Office,
}

#[derive(Serialize)]
pub struct CaseFile {
    pub events: Vec<Event>,
    pub documents: Vec<Document>,
    pub requests: Vec<IntegrationRequest>,
    pub messages: Vec<Message>,
    /// The office's name.
    pub office: String,
    /// "per conto di …" when the case was started under a delegation.
    pub acting_for: Option<Text>,
    pub clock: Clock,
}

impl CaseFile {
    pub async fn load(tx: &mut TenantTx, case: &Case, reader: Reader) -> sqlx::Result<Self> {
        Ok(Self {
            events: store::events(tx, case.id, reader == Reader::Office).await?,
            documents: store::documents(tx, case.id).await?,
            requests: integrations::of_case(tx, case.id).await?,
            messages: messages::of_case(tx, case.id).await?,
            office: office_name(tx, &case.office_code).await?,
            acting_for: delegations::acting_for(tx, case.delegation_id).await?,
            clock: clock_of(tx, case).await?,
        })
    }
}
