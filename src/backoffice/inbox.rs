//! The operators' inbox: the cases of their offices, filtered and searched,
//! earliest deadline first; assignment and transitions on many at once.

use axum::{
    body::Bytes,
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Serialize;
use uuid::Uuid;

use super::{
    db::{self as bdb, InboxFilter, PAGE_SIZE},
    desk::{self, today},
    Staff,
};
use crate::procedure::{
    engine::{self, Operator, TransitionInput},
    workflow::Workflow,
};
use crate::{
    auth::{csrf::CsrfToken, login::auth_context},
    db::TenantTx,
    error::{AppError, AppResult},
    state::AppState,
    web::{render_page, CurrentTenant},
};

pub const PHASES: &[&str] = &["submitted", "in_progress", "awaiting_integration", "accepted", "rejected", "closed"];

#[derive(serde::Deserialize)]
pub struct Outcome {
    #[serde(default)]
    fatte: Option<u32>,
    #[serde(default)]
    saltate: Option<u32>,
}

pub async fn page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    csrf: CsrfToken,
    Staff(operator): Staff,
    Query(filter): Query<InboxFilter>,
    Query(outcome): Query<Outcome>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let mut rows = bdb::inbox(&mut tx, &operator.read_offices, operator.user_id, &filter, today()).await?;
    let procedures = bdb::procedures_of(&mut tx, &operator.read_offices).await?;
    let colleagues = bdb::colleagues(&mut tx).await?;
    let transitions = bulk_transitions(&bdb::workflows_of(&mut tx, &operator.process_offices).await?, &operator);
    tx.commit().await?;
    let has_next = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let page = filter.pagina.unwrap_or(1).max(1);
    let mut context = auth_context(&tenant, &csrf);
    context.insert("rows", &rows);
    context.insert("filter", &filter);
    context.insert("procedures", &procedures);
    let team = if operator.assign_offices.is_empty() {
        Vec::new()
    } else {
        super::team_of(&state, &tenant.0, colleagues.clone(), &operator.assign_offices).await?
    };
    context.insert("colleagues", &colleagues);
    context.insert("team", &team);
    context.insert("transitions", &transitions);
    context.insert("phases", PHASES);
    context.insert("page", &page);
    context.insert("has_next", &has_next);
    context.insert("query_without_page", &query_without_page(&filter));
    context.insert("today", &today());
    context.insert("done", &outcome.fatte);
    context.insert("skipped", &outcome.saltate);
    context.insert("operator", &operator);
    Ok(render_page(&state, &tenant.site(), "backoffice/inbox.html", &context)?.into_response())
}

fn query_without_page(filter: &InboxFilter) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("procedura", &filter.procedura),
        ("stato", &filter.stato),
        ("scadenza", &filter.scadenza),
        ("assegnatario", &filter.assegnatario),
        ("q", &filter.q),
    ] {
        if !v.is_empty() {
            query.append_pair(k, v);
        }
    }
    query.finish()
}

/// Many cases at once: `azione` = `assegna` (with `assegnatario`) or
/// `transizione` (with `transizione` and optional `motivazione`), `pratica`
/// repeated. Each case is done in its own transaction: one refusal does not
/// undo the others, and the count of done and skipped comes back.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct BulkTransition {
    label: String,
    key: String,
}

/// What the bulk form offers: every transition of the operator's workflows they
/// may run, by label (once per key). A selected case whose state does not
/// allow it is skipped and counted as such.
fn bulk_transitions(workflows: &[Workflow], operator: &Operator) -> Vec<BulkTransition> {
    let mut offered: Vec<BulkTransition> = workflows
        .iter()
        .flat_map(|w| w.transitions.iter())
        .filter(|t| operator.may_run(t))
        .map(|t| BulkTransition { label: t.label.clone(), key: t.key.clone() })
        .collect();
    offered.sort();
    offered.dedup_by(|a, b| a.key == b.key);
    offered
}

pub async fn bulk(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Staff(operator): Staff,
    body: Bytes,
) -> AppResult<Response> {
    let (mut ids, mut action, mut assignee, mut transition, mut reason) =
        (Vec::new(), String::new(), String::new(), String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "pratica" => ids.push(Uuid::parse_str(&v).map_err(|_| AppError::BadRequest("case id"))?),
            "azione" => action = v.into_owned(),
            "assegnatario" => assignee = v.into_owned(),
            "transizione" => transition = v.into_owned(),
            "motivazione" => reason = v.into_owned(),
            _ => {}
        }
    }
    if ids.len() > 500 {
        return Err(AppError::BadRequest("too many cases at once"));
    }
    let (mut done, mut skipped) = (0u32, 0u32);
    for id in ids {
        let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
        let outcome = match super::access::load_to_process(&mut tx, id, &operator).await {
            Err(AppError::NotFound | AppError::Forbidden) => Ok(false),
            Err(e) => Err(e),
            Ok(case) => match action.as_str() {
                "assegna" => match desk::assignee(&state, &tenant.0, &mut tx, &case, &operator, &assignee).await {
                    // Not theirs to give: skipped, as a case they cannot work.
                    Err(AppError::NotFound | AppError::Forbidden) => Ok(false),
                    Err(e) => Err(e),
                    Ok(who) => {
                        desk::assign_case(state.env(), &tenant.0, &mut tx, &case, &operator, who).await.map(|()| true)
                    }
                },
                "transizione" => {
                    let input = TransitionInput { reason: reason.clone(), due_date: None };
                    match engine::run_transition(state.env(), &tenant.0, &mut tx, &case, &transition, &operator, &input)
                        .await
                    {
                        Ok(()) => Ok(true),
                        Err(engine::Refusal::Failed(e)) => Err(e),
                        Err(_) => Ok(false),
                    }
                }
                _ => return Err(AppError::BadRequest("unknown bulk action")),
            },
        };
        match outcome {
            Ok(true) => {
                tx.commit().await?;
                done += 1;
            }
            Ok(false) => {
                tx.rollback().await?;
                skipped += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Redirect::to(&format!("/backoffice/pratiche?fatte={done}&saltate={skipped}")).into_response())
}
