//! The one error type. A handler returns `AppError`; its response carries the
//! error as an extension and `web::errors` renders it (page or JSON) with the
//! request id. Causes of 500s are logged, never shown.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("malformed host")]
    BadHost,
    #[error("unknown host")]
    UnknownHost,
    #[error("service unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        Self::Internal(e.into())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::UnknownHost => StatusCode::NOT_FOUND,
            Self::BadHost => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable code for API clients and the translation key of the page text.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::BadHost => "bad_host",
            Self::UnknownHost => "unknown_host",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

/// What `web::errors::render_error_pages` needs to draw the page.
#[derive(Clone, Copy, Debug)]
pub struct ErrorMarker {
    pub status: StatusCode,
    pub code: &'static str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let marker = ErrorMarker { status: self.status(), code: self.code() };
        let mut response = (marker.status, marker.code).into_response();
        response.extensions_mut().insert(marker);
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
