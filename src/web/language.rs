//! The language of a page, decided once per request in `web::dispatch`, next to
//! the site: the visitor's own choice (the `sportello_lang` cookie, set by the
//! language links of the header), then the browser's `Accept-Language`, then
//! the site's default — always among the languages the site offers.

use std::sync::Arc;

use axum::{
    extract::{Path, Query},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::{error::AppError, tenancy::Site};

pub const LANG_COOKIE: &str = "sportello_lang";

/// What the platform's own pages offer.
pub const PLATFORM_LANGUAGES: &[&str] = &["it", "en"];

/// A language choice is kept for a year, like any preference.
const COOKIE_MAX_AGE_SECS: u32 = 365 * 24 * 3600;

/// The language this request is answered in, and the ones its site offers
/// (the first is the site's default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLanguage {
    pub lang: String,
    pub offered: Arc<[String]>,
}

impl RequestLanguage {
    /// Decided from what the request says about the visitor.
    pub fn decide(offered: Arc<[String]>, headers: &HeaderMap) -> Self {
        let lang =
            choose(&offered, super::client::cookie_value(headers, LANG_COOKIE), accept_language(headers)).to_string();
        Self { lang, offered }
    }

    /// More than one language: the same URL answers differently by visitor.
    pub fn varies(&self) -> bool {
        self.offered.len() > 1
    }
}

/// The languages `site` offers. An ente that never said is Italian only.
pub fn offered_by(site: &Site) -> Arc<[String]> {
    match site {
        Site::Tenant(tenant) if !tenant.profile.languages.is_empty() => tenant.profile.languages.clone().into(),
        Site::Tenant(_) => [super::render::DEFAULT_LANG.to_string()].into(),
        Site::Platform => PLATFORM_LANGUAGES.iter().map(|l| l.to_string()).collect(),
    }
}

/// The visitor's choice if the site offers it, else the first language of
/// `Accept-Language` it offers, else its default.
pub fn choose<'a>(offered: &'a [String], cookie: Option<&str>, accept_language: Option<&str>) -> &'a str {
    let default = offered.first().map(String::as_str).unwrap_or(super::render::DEFAULT_LANG);
    let offers = |lang: &str| offered.iter().find(|o| o.as_str() == lang).map(String::as_str);
    if let Some(chosen) = cookie.and_then(offers) {
        return chosen;
    }
    accept_language.map(accepted).unwrap_or_default().iter().find_map(|l| offers(l)).unwrap_or(default)
}

/// The primary language subtags of an `Accept-Language` header, most wanted
/// first (`q=0` and `*` left out). Only the first 16 entries count: a header
/// is not a place to make the server sort at length.
pub fn accepted(header: &str) -> Vec<String> {
    let mut ranked: Vec<(u16, String)> = header
        .split(',')
        .take(16)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let primary = tag.split('-').next()?.to_ascii_lowercase();
            if primary.is_empty() || primary.len() > 8 || !primary.bytes().all(|b| b.is_ascii_lowercase()) {
                return None;
            }
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>().unwrap_or(0.0)))
                .unwrap_or(1.0);
            let weight = (weight.clamp(0.0, 1.0) * 1000.0).round() as u16;
            (weight > 0).then_some((weight, primary))
        })
        .collect();
    // Stable: among equal weights the header's order stands.
    ranked.sort_by_key(|(weight, _)| std::cmp::Reverse(*weight));
    let mut out: Vec<String> = Vec::new();
    for (_, lang) in ranked {
        if !out.contains(&lang) {
            out.push(lang);
        }
    }
    out
}

pub fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

/// The link of the header's language menu that switches to `lang` and comes
/// back to `path`.
pub fn switch_url(lang: &str, path: &str) -> String {
    format!("/lingua/{lang}?torna={}", url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>())
}

#[derive(Deserialize)]
pub struct SwitchQuery {
    torna: Option<String>,
}

/// `GET /lingua/{lang}?torna=/path`: keeps the choice in a cookie and goes back.
/// A plain link, so the menu works without JavaScript; a GET, since a
/// preference is no state worth a CSRF token (and a token would make every
/// page personal, out of the page cache).
pub async fn switch(
    axum::Extension(language): axum::Extension<RequestLanguage>,
    Path(lang): Path<String>,
    Query(query): Query<SwitchQuery>,
) -> Result<Response, AppError> {
    if !language.offered.contains(&lang) {
        return Err(AppError::NotFound);
    }
    let back = same_site_path(query.torna.as_deref());
    let cookie = format!("{LANG_COOKIE}={lang}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={COOKIE_MAX_AGE_SECS}");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(anyhow::Error::from)?);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Only paths of this site: the switch never sends anyone elsewhere.
fn same_site_path(path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(char::is_control)
                && p.len() <= 2000 =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(langs: &[&str]) -> Vec<String> {
        langs.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn the_choice_beats_the_browser_and_the_browser_beats_the_default() {
        let both = offered(&["it", "en"]);
        assert_eq!(choose(&both, None, None), "it");
        assert_eq!(choose(&both, None, Some("en-GB,en;q=0.9")), "en");
        assert_eq!(choose(&both, Some("it"), Some("en-GB,en;q=0.9")), "it");
        assert_eq!(choose(&both, Some("en"), None), "en");
        // A choice the site does not offer is no choice.
        assert_eq!(choose(&both, Some("fr"), Some("en")), "en");
        assert_eq!(choose(&both, Some("xx\u{1}"), None), "it");
    }

    #[test]
    fn a_site_offering_only_italian_answers_in_italian() {
        let italian = offered(&["it"]);
        assert_eq!(choose(&italian, Some("en"), Some("en")), "it");
    }

    #[test]
    fn accept_language_is_read_by_weight() {
        assert_eq!(accepted("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"), ["fr", "en", "de"]);
        assert_eq!(accepted("en;q=0.2, it;q=0.9"), ["it", "en"]);
        assert_eq!(accepted("it;q=0, en"), ["en"]);
        assert_eq!(accepted(""), Vec::<String>::new());
        assert_eq!(accepted("en;q=abc, it"), ["it"]);
        let both = offered(&["it", "en"]);
        assert_eq!(choose(&both, None, Some("de, en;q=0.5, it;q=0.4")), "en");
    }

    #[test]
    fn the_switch_only_goes_back_to_this_site() {
        assert_eq!(same_site_path(Some("/servizi?x=1")), "/servizi?x=1");
        assert_eq!(same_site_path(Some("//evil.example/")), "/");
        assert_eq!(same_site_path(Some("https://evil.example/")), "/");
        assert_eq!(same_site_path(None), "/");
        assert_eq!(switch_url("en", "/cerca?q=tari&x=1"), "/lingua/en?torna=%2Fcerca%3Fq%3Dtari%26x%3D1");
    }
}
