//! The citizen's counter: starting a case from a procedure, the draft and its
//! form, submission with a registry number and a receipt, the case's page,
//! integrations, messages, assistance and acting for others.

pub mod access;
pub mod assistance;
pub mod delegations;
pub mod draft;
pub mod integrations;
pub mod messages;
pub mod submit;
pub mod sweep;
pub mod uploads;
pub mod view;

use axum::{
    extract::DefaultBodyLimit,
    routing::{get, post},
};

use crate::{
    auth::authz::{Access, RouteSpec},
    i18n::DEFAULT_LANG,
    tenancy::Tenant,
};

/// The ente's own language, its default: e-mails to citizens, the registry and
/// the timeline are written in it.
pub fn ente_lang(tenant: &Tenant) -> &str {
    tenant.profile.languages.first().map(String::as_str).unwrap_or(DEFAULT_LANG)
}

const READ: Access = Access::signed_in("cases", "read");
const WRITE: Access = Access::signed_in("cases", "write");

/// Multipart forms carry files: their own limit (the storage checks each file
/// against its field's) instead of the 2 MB default for forms.
fn upload_limit(max_bytes: u64) -> DefaultBodyLimit {
    DefaultBodyLimit::max(usize::try_from(max_bytes.saturating_mul(4)).unwrap_or(usize::MAX))
}

pub fn routes(upload_max_bytes: u64) -> Vec<RouteSpec> {
    let p = "/area-personale/pratiche/{id}";
    vec![
        RouteSpec::new("/area-personale", &["GET"], Access::signed_in("personal_area", "read"), get(view::home)),
        RouteSpec::new("/servizi/{slug}/richiesta", &["GET", "POST"], WRITE, get(draft::start_page).post(draft::start)),
        RouteSpec::new(
            "/area-personale/pratiche/{id}/passo/{n}",
            &["GET", "POST"],
            WRITE,
            get(draft::step_page).post(draft::save_step).layer(upload_limit(upload_max_bytes)),
        ),
        RouteSpec::new(
            "/area-personale/pratiche/{id}/allegati/{document}/elimina",
            &["POST"],
            WRITE,
            post(draft::remove_attachment),
        ),
        RouteSpec::new("/area-personale/pratiche/{id}/riepilogo", &["GET"], READ, get(draft::summary_page)),
        RouteSpec::new("/area-personale/pratiche/{id}/invia", &["POST"], WRITE, post(submit::submit)),
        RouteSpec::new("/area-personale/pratiche/{id}/elimina", &["POST"], WRITE, post(draft::delete_draft)),
        RouteSpec::new(p, &["GET"], READ, get(view::case_page)),
        RouteSpec::new("/area-personale/pratiche/{id}/documenti/{document}", &["GET"], READ, get(view::download)),
        RouteSpec::new("/area-personale/pratiche/{id}/messaggi", &["POST"], WRITE, post(messages::citizen_writes)),
        RouteSpec::new(
            "/area-personale/pratiche/{id}/integrazioni/{request}",
            &["GET", "POST"],
            WRITE,
            get(integrations::answer_page).post(integrations::answer).layer(upload_limit(upload_max_bytes)),
        ),
        RouteSpec::new("/area-personale/messaggi", &["GET"], READ, get(messages::inbox)),
        RouteSpec::new(
            "/area-personale/assistenza",
            &["GET", "POST"],
            WRITE,
            get(assistance::list).post(assistance::open),
        ),
        RouteSpec::new("/area-personale/assistenza/{id}", &["GET"], READ, get(assistance::thread)),
        RouteSpec::new("/area-personale/assistenza/{id}/messaggi", &["POST"], WRITE, post(assistance::reply)),
        RouteSpec::new(
            "/area-personale/deleghe",
            &["GET", "POST"],
            WRITE,
            get(delegations::page).post(delegations::add),
        ),
        RouteSpec::new("/area-personale/deleghe/{id}/revoca", &["POST"], WRITE, post(delegations::revoke)),
    ]
}
