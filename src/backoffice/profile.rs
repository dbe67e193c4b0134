//! A staff member's own page (`/backoffice/profilo`): who they sign in as, their
//! roles, their offices and their open staff sessions. An invitation link
//! lands here too (`/backoffice/benvenuto?t=…`): the staff sign-in it leads
//! through has already used the link up (`auth::store::admit`).

use axum::response::Response;

use super::Staff;
use crate::{
    auth::{page::Page, session::CurrentSession},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    organisation::{offices, roles, staff},
};

pub async fn page(page: Page, Staff(operator): Staff, session: CurrentSession) -> AppResult<Response> {
    render(page, operator, session, false).await
}

pub async fn welcome(page: Page, Staff(operator): Staff, session: CurrentSession) -> AppResult<Response> {
    render(page, operator, session, true).await
}

async fn render(
    page: Page,
    operator: crate::procedure::engine::Operator,
    session: CurrentSession,
    welcome: bool,
) -> AppResult<Response> {
    let subject = session.staff_subject.clone().ok_or(AppError::Forbidden)?;
    let email = subject.trim_start_matches("staff:").to_string();
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let member = staff::member(&mut tx, &email).await?;
    let sessions = staff::sessions(&mut tx, &subject, &session.token_hash).await?;
    let all = offices::all(&mut tx).await?;
    let (roles, own) = member.map(|m| (m.roles, m.offices)).unwrap_or_default();
    let labels = roles::labels(&mut tx, roles.clone(), |k| page.text(&Text::new(k))).await?;
    tx.commit().await?;
    let roles: Vec<String> = roles.iter().map(|r| labels.get(r).cloned().unwrap_or_else(|| r.clone())).collect();
    let names = |codes: &[String]| -> Vec<String> {
        codes
            .iter()
            .map(|c| {
                all.iter().find(|o| &o.code == c).map(|o| format!("{} ({c})", o.name)).unwrap_or_else(|| c.clone())
            })
            .collect()
    };
    let mut context = page.context();
    context.insert("operator", &operator);
    context.insert("email", &email);
    context.insert("roles", &roles);
    context.insert("own_offices", &names(&own));
    context.insert("works_offices", &names(&operator.process_offices));
    context.insert("sessions", &sessions);
    context.insert("welcome", &welcome);
    page.render("backoffice/profile.html", &context)
}
