//! Development outboxes: with no SMS gateway or SMTP server configured, the
//! messages an ente would have sent are readable here. Off outside development.

use axum::{extract::State, response::Html, routing::get};

use crate::{
    auth::authz::{Access, RouteSpec},
    db::TenantTx,
    error::{AppError, AppResult},
    notify::{self, Outbox},
    state::AppState,
    web::CurrentTenant,
    web::{base_context, render_page},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/sviluppo/sms", &["GET"], Access::Public, get(sms_outbox)),
        RouteSpec::new("/sviluppo/posta", &["GET"], Access::Public, get(mail_outbox)),
    ]
}

async fn outbox_page(state: &AppState, tenant: &CurrentTenant, outbox: Outbox) -> AppResult<Html<String>> {
    if !state.settings.dev_pages {
        return Err(AppError::NotFound);
    }
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let messages = notify::latest(&mut tx, outbox).await?;
    tx.commit().await?;
    let mut context = base_context(&tenant.site());
    context.insert("messages", &messages);
    context.insert(
        "kind",
        match outbox {
            Outbox::Sms => "sms",
            Outbox::Mail => "mail",
        },
    );
    render_page(state, &tenant.site(), "portal/dev_outbox.html", &context)
}

async fn sms_outbox(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    outbox_page(&state, &tenant, Outbox::Sms).await
}

async fn mail_outbox(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    outbox_page(&state, &tenant, Outbox::Mail).await
}
