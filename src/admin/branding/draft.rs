//! The branding draft: what the admin edits (theme, primary colour, home
//! texts, quick links) with the images waiting to be published, its checks,
//! and its SQL. One draft per ente, under row-level security: another ente's
//! draft is never seen.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{contrast, image::Format};
use crate::{
    audit::{self, Actor},
    db::TenantTx,
    i18n::Text,
    tenancy::{model::QuickLink, Tenant},
};

/// No home page needs more; the form offers this many rows at most.
pub const MAX_LINKS: usize = 12;
const MAX_SHORT: usize = 200;
const MAX_LONG: usize = 500;
const MAX_URL: usize = 2000;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandingContent {
    pub theme: String,
    pub primary_color: String,
    pub tagline: String,
    pub banner_title: String,
    pub banner_text: String,
    pub quick_links: Vec<Link>,
}

/// A quick link of the home page: to one of the ente's procedures, or to an
/// external `https://` address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    pub label: String,
    pub description: String,
    /// The procedure's slug; empty for an external link.
    pub procedure: String,
    pub url: String,
}

impl Link {
    pub fn is_empty(&self) -> bool {
        self.label.is_empty() && self.description.is_empty() && self.procedure.is_empty() && self.url.is_empty()
    }

    pub fn href(&self) -> String {
        if self.procedure.is_empty() {
            self.url.clone()
        } else {
            format!("/servizi/{}", self.procedure)
        }
    }

    pub fn published(&self) -> QuickLink {
        QuickLink { label: self.label.clone(), url: self.href(), description: self.description.clone() }
    }
}

impl BrandingContent {
    /// What the ente shows today.
    pub fn published(tenant: &Tenant) -> Self {
        let profile = &tenant.profile;
        Self {
            theme: tenant.theme.clone(),
            primary_color: profile.branding.primary_color.clone(),
            tagline: profile.tagline.clone(),
            banner_title: profile.branding.banner_title.clone(),
            banner_text: profile.branding.banner_text.clone(),
            quick_links: profile
                .quick_links
                .iter()
                .map(|q| {
                    let (procedure, url) = match q.url.strip_prefix("/servizi/") {
                        Some(slug) if crate::tenancy::is_valid_slug(slug) => (slug.to_string(), String::new()),
                        _ => (String::new(), q.url.clone()),
                    };
                    Link { label: q.label.clone(), description: q.description.clone(), procedure, url }
                })
                .collect(),
        }
    }

    /// The problems of this content, by input name (`primary_color`,
    /// `link-2-url` …). `procedures` are the slugs a link may point to;
    /// `decimal_separator` writes the measured contrast as the reader does.
    pub fn problems(
        &self,
        themes: &[String],
        procedures: &[String],
        decimal_separator: char,
    ) -> BTreeMap<String, Text> {
        let mut problems = BTreeMap::new();
        let mut refuse = |input: String, text: Text| {
            problems.entry(input).or_insert(text);
        };
        if !themes.contains(&self.theme) {
            refuse("theme".into(), Text::new("admin.branding.check.theme"));
        }
        match contrast::parse_hex(&self.primary_color) {
            None => refuse("primary_color".into(), Text::new("admin.branding.check.colour_format")),
            Some(colour) => {
                let ratio = contrast::ratio(colour, contrast::WHITE);
                if ratio < contrast::AA_NORMAL_TEXT {
                    refuse(
                        "primary_color".into(),
                        Text::new("admin.branding.check.colour_contrast")
                            .with("ratio", contrast::shown(ratio, decimal_separator))
                            .with("least", contrast::shown(contrast::AA_NORMAL_TEXT, decimal_separator)),
                    );
                }
            }
        }
        for (input, value, required, limit) in [
            ("tagline", &self.tagline, false, MAX_SHORT),
            ("banner_title", &self.banner_title, true, MAX_SHORT),
            ("banner_text", &self.banner_text, false, MAX_LONG),
        ] {
            if required && value.is_empty() {
                refuse(input.into(), Text::new("admin.branding.check.required"));
            } else if value.chars().count() > limit {
                refuse(input.into(), Text::new("admin.branding.check.too_long").with("limit", limit));
            }
        }
        if self.quick_links.len() > MAX_LINKS {
            refuse("quick_links".into(), Text::new("admin.branding.check.too_many_links").with("limit", MAX_LINKS));
        }
        for (at, link) in self.quick_links.iter().enumerate() {
            let input = |name: &str| format!("link-{at}-{name}");
            if link.label.is_empty() {
                refuse(input("label"), Text::new("admin.branding.check.required"));
            } else if link.label.chars().count() > MAX_SHORT {
                refuse(input("label"), Text::new("admin.branding.check.too_long").with("limit", MAX_SHORT));
            }
            if link.description.chars().count() > MAX_SHORT {
                refuse(input("description"), Text::new("admin.branding.check.too_long").with("limit", MAX_SHORT));
            }
            if !link.procedure.is_empty() {
                if !procedures.contains(&link.procedure) {
                    refuse(input("procedure"), Text::new("admin.branding.check.link_procedure"));
                } else if !link.url.is_empty() {
                    refuse(input("url"), Text::new("admin.branding.check.link_both"));
                }
            } else if let Some(key) = url_problem(&link.url) {
                refuse(input("url"), Text::new(key));
            }
        }
        problems
    }

    /// SHA-256 of the canonical JSON: what the audit trail records of a draft.
    pub fn digest(&self) -> String {
        digest_of(&serde_json::to_value(self).unwrap_or_default())
    }
}

/// SHA-256 of a value's canonical JSON (the audit trail's own form).
pub fn digest_of(value: &serde_json::Value) -> String {
    let mut canonical = String::new();
    audit::canonical_json(value, &mut canonical);
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Why an external link's address is refused (None: it is a fine `https://` URL).
fn url_problem(url: &str) -> Option<&'static str> {
    if url.is_empty() {
        return Some("admin.branding.check.link_target");
    }
    if url.len() > MAX_URL || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("admin.branding.check.link_url");
    }
    if !url.to_ascii_lowercase().starts_with("https://") {
        return Some("admin.branding.check.link_https");
    }
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host_str().is_some_and(|h| h.contains('.')) => None,
        _ => Some("admin.branding.check.link_url"),
    }
}

/// An image waiting in the draft (its bytes stay in the database until asked for).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PendingImage {
    pub kind: String,
    pub content_type: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    pub content: BrandingContent,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub images: Vec<PendingImage>,
}

impl Draft {
    pub fn image(&self, kind: &str) -> Option<&PendingImage> {
        self.images.iter().find(|i| i.kind == kind)
    }
}

pub async fn load(tx: &mut TenantTx) -> sqlx::Result<Option<Draft>> {
    let row: Option<(sqlx::types::Json<BrandingContent>, i32, DateTime<Utc>, String)> =
        sqlx::query_as("select content, version, updated_at, updated_by from branding_drafts")
            .fetch_optional(tx.conn())
            .await?;
    let Some((content, version, updated_at, updated_by)) = row else { return Ok(None) };
    let images = sqlx::query_as("select kind, content_type, sha256 from branding_draft_images order by kind")
        .fetch_all(tx.conn())
        .await?;
    Ok(Some(Draft { content: content.0, version, updated_at, updated_by, images }))
}

pub enum Saved {
    Saved(i32),
    /// Someone saved since `version`, or published or discarded the draft
    /// (None): the admin decides again on what is there now.
    Conflict(Option<Box<Draft>>),
}

/// Saves `content` over the draft of `version` (0: there is no draft yet) and
/// audits the change with the digests of both contents.
pub async fn save(tx: &mut TenantTx, content: &BrandingContent, version: i32, actor: &Actor) -> sqlx::Result<Saved> {
    let before = load(tx).await?;
    if before.as_ref().map_or(0, |d| d.version) != version {
        return Ok(Saved::Conflict(before.map(Box::new)));
    }
    let json = sqlx::types::Json(content);
    let saved: Option<i32> = if version == 0 {
        sqlx::query_scalar(
            "insert into branding_drafts (tenant_id, content, version, updated_by, updated_by_id)
             values ($1, $2, 1, $3, $4) on conflict (tenant_id) do nothing returning version",
        )
        .bind(tx.tenant_id)
        .bind(json)
        .bind(&actor.label)
        .bind(actor.id)
        .fetch_optional(tx.conn())
        .await?
    } else {
        sqlx::query_scalar(
            "update branding_drafts set content = $1, version = version + 1, updated_at = clock_timestamp(),
                 updated_by = $2, updated_by_id = $3
             where version = $4 returning version",
        )
        .bind(json)
        .bind(&actor.label)
        .bind(actor.id)
        .bind(version)
        .fetch_optional(tx.conn())
        .await?
    };
    let Some(saved) = saved else { return Ok(Saved::Conflict(load(tx).await?.map(Box::new))) };
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "branding.draft_save",
            object_type: "branding",
            object_id: "draft".into(),
            before: before.map(|d| serde_json::json!({ "version": d.version, "sha256": d.content.digest() })),
            after: Some(serde_json::json!({ "version": saved, "sha256": content.digest() })),
        },
    )
    .await?;
    Ok(Saved::Saved(saved))
}

/// Puts a checked image into the (already saved) draft, replacing the one of
/// its kind, and audits it by digest.
pub async fn set_image(
    tx: &mut TenantTx,
    kind: &str,
    format: Format,
    body: &[u8],
    actor: &Actor,
) -> sqlx::Result<String> {
    let sha256 = hex::encode(Sha256::digest(body));
    let before: Option<String> = sqlx::query_scalar("select sha256 from branding_draft_images where kind = $1")
        .bind(kind)
        .fetch_optional(tx.conn())
        .await?;
    sqlx::query(
        "insert into branding_draft_images (tenant_id, kind, content_type, sha256, body) values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, kind) do update
             set content_type = excluded.content_type, sha256 = excluded.sha256, body = excluded.body",
    )
    .bind(tx.tenant_id)
    .bind(kind)
    .bind(format.content_type())
    .bind(&sha256)
    .bind(body)
    .execute(tx.conn())
    .await?;
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "branding.draft_image",
            object_type: "branding",
            object_id: kind.to_string(),
            before: before.map(|sha256| serde_json::json!({ "sha256": sha256 })),
            after: Some(serde_json::json!({ "sha256": sha256, "content_type": format.content_type() })),
        },
    )
    .await?;
    Ok(sha256)
}

/// The bytes of a pending image: content type and body.
pub async fn image_body(tx: &mut TenantTx, kind: &str) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    sqlx::query_as("select content_type, body from branding_draft_images where kind = $1")
        .bind(kind)
        .fetch_optional(tx.conn())
        .await
}

/// Drops the draft and its images; false when there was none.
pub async fn discard(tx: &mut TenantTx, actor: &Actor) -> sqlx::Result<bool> {
    let Some(draft) = load(tx).await? else { return Ok(false) };
    sqlx::query("delete from branding_drafts").execute(tx.conn()).await?;
    audit::append(
        tx,
        actor,
        audit::Change {
            action: "branding.draft_discard",
            object_type: "branding",
            object_id: "draft".into(),
            before: Some(serde_json::json!({ "version": draft.version, "sha256": draft.content.digest() })),
            after: None,
        },
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> BrandingContent {
        BrandingContent {
            theme: "base".into(),
            primary_color: "#0066cc".into(),
            tagline: "Servizi online".into(),
            banner_title: "Benvenuti".into(),
            banner_text: String::new(),
            quick_links: vec![
                Link { label: "Residenza".into(), procedure: "cambio-residenza".into(), ..Link::default() },
                Link {
                    label: "ANPR".into(),
                    url: "https://www.anagrafenazionale.interno.it/".into(),
                    ..Link::default()
                },
            ],
        }
    }

    fn problems(content: &BrandingContent) -> BTreeMap<String, String> {
        content
            .problems(&["base".into(), "mare".into()], &["cambio-residenza".into()], ',')
            .into_iter()
            .map(|(input, text)| {
                let args: Vec<String> = text.args.iter().map(|(n, a)| format!("{n}={a:?}")).collect();
                (input, format!("{} {}", text.key, args.join(" ")))
            })
            .collect()
    }

    #[test]
    fn valid_content_has_no_problems() {
        assert_eq!(problems(&valid()), BTreeMap::new());
    }

    #[test]
    fn a_low_contrast_colour_is_refused_with_the_measured_ratio() {
        let content = BrandingContent { primary_color: "#ffcc00".into(), ..valid() };
        let found = problems(&content);
        let message = &found["primary_color"];
        assert!(message.starts_with("admin.branding.check.colour_contrast"), "{message}");
        assert!(message.contains("\"1,5\"") && message.contains("\"4,5\""), "{message}");
        let content = BrandingContent { primary_color: "blue".into(), ..valid() };
        assert!(problems(&content)["primary_color"].starts_with("admin.branding.check.colour_format"));
    }

    #[test]
    fn links_go_to_a_procedure_of_the_ente_or_an_https_address() {
        let mut content = valid();
        content.quick_links = vec![
            Link { label: "A".into(), url: "http://www.example.it/".into(), ..Link::default() },
            Link { label: "B".into(), procedure: "not-ours".into(), ..Link::default() },
            Link { label: "C".into(), ..Link::default() },
            Link { label: String::new(), url: "https://www.example.it/".into(), ..Link::default() },
            Link { label: "E".into(), url: "javascript:alert(1)".into(), ..Link::default() },
            Link { label: "F".into(), url: "https://exa mple.it/".into(), ..Link::default() },
        ];
        let found = problems(&content);
        assert!(found["link-0-url"].starts_with("admin.branding.check.link_https"));
        assert!(found["link-1-procedure"].starts_with("admin.branding.check.link_procedure"));
        assert!(found["link-2-url"].starts_with("admin.branding.check.link_target"));
        assert!(found["link-3-label"].starts_with("admin.branding.check.required"));
        assert!(found["link-4-url"].starts_with("admin.branding.check.link_https"));
        assert!(found["link-5-url"].starts_with("admin.branding.check.link_url"));
        assert_eq!(found.len(), 6, "{found:?}");
    }

    #[test]
    fn the_theme_is_one_installed_and_the_banner_title_is_required() {
        let content = BrandingContent { theme: "../base".into(), banner_title: String::new(), ..valid() };
        let found = problems(&content);
        assert!(found["theme"].starts_with("admin.branding.check.theme"));
        assert!(found["banner_title"].starts_with("admin.branding.check.required"));
    }

    #[test]
    fn a_published_profile_becomes_a_draft_and_back_unchanged() {
        let links = [
            ("/servizi/cambio-residenza", "cambio-residenza", ""),
            ("https://x.example.it/", "", "https://x.example.it/"),
        ];
        for (url, procedure, external) in links {
            let tenant_link = QuickLink { label: "L".into(), url: url.into(), description: "D".into() };
            let profile =
                crate::tenancy::model::Profile { quick_links: vec![tenant_link.clone()], ..Default::default() };
            let content = BrandingContent::published(&tenant_with(profile));
            assert_eq!(content.quick_links[0].procedure, procedure);
            assert_eq!(content.quick_links[0].url, external);
            assert_eq!(content.quick_links[0].published(), tenant_link);
        }
    }

    fn tenant_with(profile: crate::tenancy::model::Profile) -> Tenant {
        Tenant {
            id: uuid::Uuid::nil(),
            slug: "valmora".into(),
            name: "Comune di Valmora".into(),
            status: crate::tenancy::model::TenantStatus::Active,
            theme: "base".into(),
            primary_host: "valmora.localhost".into(),
            profile,
            auth: Default::default(),
            suspension_reason: String::new(),
        }
    }
}
