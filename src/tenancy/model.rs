//! The resolved tenant, as every request sees it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn parse(s: &str) -> Self {
        if s == "active" {
            Self::Active
        } else {
            Self::Suspended
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub theme: String,
    pub primary_host: String,
    pub profile: Profile,
    pub auth: crate::tenancy::sign_in::AuthSettings,
    /// Why the platform suspended it (shown on its pages while suspended).
    pub suspension_reason: String,
}

impl Tenant {
    /// The ente's own language: the first it offers, else Italian. What it
    /// writes in without a reader to ask (e-mails, receipts, acts, timeline).
    pub fn default_lang(&self) -> &str {
        self.profile.languages.first().map(String::as_str).unwrap_or(crate::i18n::DEFAULT_LANG)
    }
}

/// Public profile stored as JSON in `tenants.profile`; it reaches templates as
/// context, never as a template copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    pub short_name: String,
    pub tagline: String,
    pub ipa_code: String,
    /// Codice catastale ("Belfiore") of the municipality, e.g. `H501`: the
    /// CIE metadata names the seat by it.
    pub cadastral_code: String,
    pub region: String,
    pub province: String,
    pub branding: Branding,
    pub contacts: Contacts,
    pub quick_links: Vec<QuickLink>,
    /// The languages the portal offers, its default first (`languages` in
    /// tenant.toml; onboarding accepts only those with a locale file). Empty in
    /// a profile stored before languages existed: Italian only.
    pub languages: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    pub primary_color: String,
    pub banner_title: String,
    pub banner_text: String,
    /// `/branding/<name>?v=<hash>` — set by onboarding from the stored assets.
    pub logo_url: Option<String>,
    pub banner_url: Option<String>,
    /// Cache-busting version of the generated colour stylesheet.
    pub css_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contacts {
    pub address: String,
    pub phone: String,
    pub email: String,
    pub pec: String,
    pub website: String,
    pub vat_number: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickLink {
    pub label: String,
    pub url: String,
    #[serde(default)]
    pub description: String,
}

impl QuickLink {
    pub fn is_external(&self) -> bool {
        self.url.starts_with("http://") || self.url.starts_with("https://")
    }
}

pub fn is_valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
