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
    #[error("sign-in required")]
    SignInRequired { next: String },
    /// A back-office page without a staff session: the staff sign-in page.
    #[error("staff sign-in required")]
    StaffSignInRequired { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("payload too large")]
    PayloadTooLarge,
    /// The citizen, or the ente, already has as many uploads in progress as allowed.
    #[error("too many uploads in progress")]
    TooManyUploads,
    /// The client stopped sending the request body.
    #[error("request body timed out")]
    RequestTimeout,
    /// The action no longer applies to the object's current state (someone
    /// else moved it first).
    #[error("conflict")]
    Conflict,
    /// No credentials, or unknown ones (API tokens).
    #[error("unauthorized")]
    Unauthorized,
    /// Refused input of an API call: field → message (in the request's
    /// language when the response is rendered).
    #[error("invalid input")]
    Invalid(std::collections::BTreeMap<String, crate::i18n::Text>),
    /// A request no form of ours sends (broken body, wrong encoding); the
    /// string names what was wrong, for the log.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
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
            Self::SignInRequired { .. } | Self::StaffSignInRequired { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden | Self::Csrf => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
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
            Self::SignInRequired { .. } => "sign_in_required",
            Self::StaffSignInRequired { .. } => "staff_sign_in_required",
            Self::Forbidden => "forbidden",
            Self::Csrf => "csrf",
            Self::RateLimited { .. } => "rate_limited",
            Self::PayloadTooLarge => "payload_too_large",
            Self::TooManyUploads => "too_many_uploads",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict => "conflict",
            Self::Unauthorized => "unauthorized",
            Self::Invalid(_) => "invalid",
            Self::BadRequest(_) => "bad_request",
            Self::Internal(_) => "internal",
        }
    }
}

/// The messages of an `Invalid` error, for the JSON body.
#[derive(Clone, Debug)]
pub struct InvalidFields(pub std::collections::BTreeMap<String, crate::i18n::Text>);

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
        if let Self::SignInRequired { next } | Self::StaffSignInRequired { next } = &self {
            let page =
                if matches!(self, Self::StaffSignInRequired { .. }) { "/backoffice/accesso" } else { "/accesso" };
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            return axum::response::Redirect::to(&format!("{page}?next={next}")).into_response();
        }
        let marker = ErrorMarker { status: self.status(), code: self.code() };
        let mut response = (marker.status, marker.code).into_response();
        if let Self::RateLimited { retry_after_secs } = &self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        if let Self::Invalid(fields) = self {
            response.extensions_mut().insert(InvalidFields(fields));
        }
        response.extensions_mut().insert(marker);
        response
    }
}

pub type AppResult<T> = Result<T, AppError>;
