//! The page context every ente page handler starts from: the state, the ente
//! as this request sees it (language, who is signed in) and the visitor's CSRF
//! token. One extractor instead of the same three arguments and the same two
//! calls (`auth_context`, `render_page`) in every handler.

use axum::{
    extract::{FromRef, FromRequestParts},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
};
use tera::Context;

use super::{csrf::CsrfToken, login::auth_context};
use crate::{
    error::{AppError, AppResult},
    i18n::Text,
    state::AppState,
    web::{render_page, CurrentTenant},
};

pub struct Page {
    pub state: AppState,
    pub tenant: CurrentTenant,
    pub csrf: CsrfToken,
}

impl<S: Send + Sync> FromRequestParts<S> for Page
where
    AppState: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            state: AppState::from_ref(state),
            tenant: CurrentTenant::from_request_parts(parts, state).await?,
            csrf: CsrfToken::from_request_parts(parts, state).await?,
        })
    }
}

impl Page {
    /// The context a page of the ente starts from (header, language, CSRF token,
    /// sign-in methods).
    pub fn context(&self) -> Context {
        auth_context(&self.tenant, &self.csrf)
    }

    /// `template` in the ente's theme, 200.
    pub fn render(&self, template: &str, context: &Context) -> AppResult<Response> {
        self.render_with(StatusCode::OK, template, context)
    }

    pub fn render_with(&self, status: StatusCode, template: &str, context: &Context) -> AppResult<Response> {
        Ok((status, render_page(&self.state, &self.tenant.site(), template, context)?).into_response())
    }

    /// A message the code returned, in the visitor's language.
    pub fn text(&self, text: &Text) -> String {
        self.state.renderer.catalogues().text(self.tenant.lang(), text)
    }

    pub fn lang(&self) -> &str {
        self.tenant.lang()
    }
}
