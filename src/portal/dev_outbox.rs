//! Development outboxes: with no SMS gateway or SMTP server configured, the
//! messages an ente would have sent are readable here. Off outside development.

use axum::{extract::State, response::Html, routing::get};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    auth::authz::{Access, RouteSpec},
    db::TenantTx,
    error::{AppError, AppResult},
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

#[derive(Serialize, sqlx::FromRow)]
struct Message {
    recipient: String,
    subject: Option<String>,
    body: String,
    created_at: DateTime<Utc>,
}

async fn outbox_page(state: &AppState, tenant: &CurrentTenant, sql: &str, kind: &str) -> AppResult<Html<String>> {
    if !state.settings.dev_pages {
        return Err(AppError::NotFound);
    }
    let mut tx = TenantTx::begin(&state.db, tenant.0.id).await?;
    let messages: Vec<Message> = sqlx::query_as(sql).fetch_all(tx.conn()).await?;
    tx.commit().await?;
    let mut context = base_context(&tenant.site());
    context.insert("messages", &messages);
    context.insert("kind", kind);
    render_page(state, &tenant.site(), "portal/dev_outbox.html", &context)
}

async fn sms_outbox(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    outbox_page(
        &state,
        &tenant,
        "select recipient, null::text as subject, body, created_at from sms_outbox order by created_at desc limit 50",
        "sms",
    )
    .await
}

async fn mail_outbox(State(state): State<AppState>, tenant: CurrentTenant) -> AppResult<Html<String>> {
    outbox_page(
        &state,
        &tenant,
        "select recipient, subject, body, created_at from mail_outbox order by created_at desc limit 50",
        "mail",
    )
    .await
}
