//! Declarative onboarding: `tenants/<slug>/` is the recipe, `apply` makes the
//! database match it. Applying an unchanged recipe changes nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub mod export;

pub use export::{export, Exported};

use crate::tenancy::Method;
use crate::{
    audit::{self, Actor, Change},
    auth::authz,
    catalog,
    db::TenantTx,
    tenancy::{
        host::normalize_host,
        is_valid_slug,
        model::{Contacts, Profile, QuickLink},
        AuthSettings,
    },
};

/// `tenants/<slug>/tenant.toml`. Serialised by `tenant export`, which leaves
/// out what is empty or the default so the file reads like a hand-written one.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub name: String,
    pub short_name: String,
    #[serde(default = "default_theme")]
    pub theme: String,
    pub ipa_code: String,
    /// Codice catastale of the municipality (CIE metadata); required when CIE is on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cadastral_code: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tagline: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub province: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_domains: Vec<String>,
    /// The languages the portal offers; the first is the ente's default.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    pub branding: BrandingFile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub contacts: Contacts,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_links: Vec<QuickLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<crate::procedure::spec::CategorySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<crate::procedure::spec::OfficeSpec>,
    #[serde(default, skip_serializing_if = "is_default", serialize_with = "export::auth_without_defaults")]
    pub auth: AuthSettings,
    /// Operators and ente admins: their corporate e-mail and roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staff: Vec<StaffSpec>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSpec {
    pub email: String,
    pub roles: Vec<String>,
    /// The offices (UO codes) whose cases they work on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offices: Vec<String>,
    /// Their fiscal code, to sign in with SPID or CIE (`[auth.staff]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiscal_code: Option<String>,
}

fn default_theme() -> String {
    "base".into()
}

fn default_languages() -> Vec<String> {
    vec!["it".into()]
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingFile {
    pub primary_color: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub banner_title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub banner_text: String,
}

/// A tenant recipe read from disk and validated.
pub struct TenantRecipe {
    pub slug: String,
    pub file: TenantFile,
    pub assets: Vec<Asset>,
    pub catalog: crate::procedure::spec::CatalogSpec,
    /// Authorization rules: `policy.csv` (or the platform default) plus staff roles.
    pub rules: Vec<[String; 5]>,
    /// `[[staff]]`, as `staff_members` holds them.
    pub staff_members: Vec<crate::users::StaffMember>,
}

pub struct Asset {
    pub name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub sha256: String,
}

#[derive(Debug)]
pub struct ApplyReport {
    pub slug: String,
    pub created: bool,
    /// Rows inserted, updated or unpublished; 0 means the database already matched.
    pub changes: u64,
    /// The revisions of procedures it published, with what each changed.
    pub published: Vec<catalog::revisions::Published>,
    /// The recipe's look (theme, tagline, quick links, colours, texts, images)
    /// replaced a different one, perhaps published from the console.
    pub branding_replaced: bool,
}

impl TenantRecipe {
    /// Reads and checks `dir`: its theme must be one of `known_themes`, its
    /// languages among `known_languages` (those with a locale file).
    pub fn load(dir: &Path, known_themes: &[String], known_languages: &[String]) -> anyhow::Result<Self> {
        let dir = dir.canonicalize().with_context(|| format!("tenant folder {}", dir.display()))?;
        let slug = dir.file_name().and_then(|n| n.to_str()).context("tenant folder name")?.to_string();
        if !is_valid_slug(&slug) {
            bail!(
                "{}: the folder name is the tenant slug and must be lowercase letters, digits and hyphens",
                dir.display()
            );
        }
        let path = dir.join("tenant.toml");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let file: TenantFile = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let at = |field: &str| format!("{}: {field}", path.display());
        if file.name.trim().is_empty() {
            bail!("{}: must not be empty", at("name"));
        }
        if !known_themes.contains(&file.theme) {
            bail!("{}: unknown theme {:?} (available: {})", at("theme"), file.theme, known_themes.join(", "));
        }
        if !is_hex_color(&file.branding.primary_color) {
            bail!("{}: expected a colour like \"#0066cc\"", at("branding.primary_color"));
        }
        if file.languages.is_empty() {
            bail!("{}: list at least one language, the default first (for example [\"it\"])", at("languages"));
        }
        for (i, lang) in file.languages.iter().enumerate() {
            if !known_languages.contains(lang) {
                bail!(
                    "{}: {lang:?} has no locale file (languages available: {})",
                    at("languages"),
                    known_languages.join(", ")
                );
            }
            if file.languages[..i].contains(lang) {
                bail!("{}: {lang:?} is listed twice", at("languages"));
            }
        }
        for link in &file.quick_links {
            if !(link.url.starts_with('/') || link.url.starts_with("https://") || link.url.starts_with("http://")) {
                bail!("{}: {:?} must be a path starting with / or an http(s) address", at("quick_links.url"), link.url);
            }
        }
        for domain in &file.custom_domains {
            if normalize_host(domain).ok().as_deref() != Some(domain.as_str()) {
                bail!("{}: {domain:?} is not a lowercase host name", at("custom_domains"));
            }
        }
        let mut assets = Vec::new();
        for (name, file_name) in [("logo", &file.branding.logo), ("banner", &file.branding.banner)] {
            if let Some(file_name) = file_name {
                assets.push(load_asset(&dir, name, file_name)?);
            }
        }
        let catalog = crate::procedure::spec::CatalogSpec::load(&dir, &file.categories, &file.offices)?;
        let policy_path = dir.join("policy.csv");
        let policy = if policy_path.exists() {
            std::fs::read_to_string(&policy_path)?
        } else {
            authz::DEFAULT_POLICY.to_string()
        };
        let mut rules = authz::parse_policy(&policy, &slug).with_context(|| format!("{}", policy_path.display()))?;
        let mut staff_members: Vec<crate::users::StaffMember> = Vec::new();
        for staff in &file.staff {
            let email = crate::input::normalize_email(&staff.email)
                .with_context(|| format!("{}: staff e-mail {:?}", path.display(), staff.email))?;
            let fiscal_code = match &staff.fiscal_code {
                Some(code) => Some(crate::input::normalize_fiscal_code(code).with_context(|| {
                    format!("{}: staff {email}: {code:?} is not a valid fiscal code", path.display())
                })?),
                None => None,
            };
            if fiscal_code.is_some() && staff_members.iter().any(|m| m.fiscal_code == fiscal_code) {
                bail!("{}: two staff entries with the fiscal code of {email}", path.display());
            }
            staff_members.push(crate::users::StaffMember { email: email.clone(), fiscal_code });
            for role in &staff.roles {
                rules.push(["g".into(), format!("staff:{email}"), role.clone(), slug.clone(), String::new()]);
            }
            for office in &staff.offices {
                if !file.offices.iter().any(|o| &o.code == office) {
                    bail!("{}: staff {email} works in the unknown office {office:?}", path.display());
                }
                rules.push(["g".into(), format!("staff:{email}"), format!("uo:{office}"), slug.clone(), String::new()]);
            }
        }
        // Membership of an office lets one read and work its cases.
        for office in &file.offices {
            for act in ["read", "process"] {
                let (subject, object) = (format!("uo:{}", office.code), format!("office:{}", office.code));
                let rule = ["p".into(), subject, slug.clone(), object, act.to_string()];
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
        for code in &file.auth.sms_country_codes {
            let digits = code.strip_prefix('+').unwrap_or_default();
            if !(1..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                bail!("{}: {code:?} is not an international prefix like \"+39\"", at("auth.sms_country_codes"));
            }
        }
        if let Some(oidc) = &file.auth.oidc {
            if url::Url::parse(&oidc.issuer).is_err() {
                bail!("{}: auth.oidc.issuer must be a URL", path.display());
            }
        }
        if file.auth.methods.contains(&Method::Local) {
            bail!("{}: `local` is a staff sign-in: put it in [auth.staff] methods", at("auth.methods"));
        }
        if let Some(m) =
            file.auth.staff.methods.iter().find(|m| !matches!(m, Method::Spid | Method::Cie | Method::Local))
        {
            bail!(
                "{}: staff sign in with spid, cie or local (the ente's provider is [auth.oidc]), not {}",
                at("auth.staff.methods"),
                m.as_str()
            );
        }
        let uses_cie = file.auth.methods.contains(&Method::Cie) || file.auth.staff.methods.contains(&Method::Cie);
        if uses_cie && !crate::auth::saml::config::is_cadastral_code(&file.cadastral_code) {
            bail!(
                "{}: CIE sign-in needs the municipality's cadastral code, a capital letter and three digits (for example \"H501\")",
                at("cadastral_code")
            );
        }
        Ok(Self { slug, file, assets, catalog, rules, staff_members })
    }

    fn profile(&self) -> Profile {
        let f = &self.file;
        let asset_url = |name: &str| {
            self.assets
                .iter()
                .find(|a| a.name.starts_with(name))
                .map(|a| format!("/branding/{}?v={}", a.name, &a.sha256[..12]))
        };
        let mut css_hash = Sha256::new();
        css_hash.update(f.branding.primary_color.as_bytes());
        Profile {
            short_name: f.short_name.clone(),
            tagline: f.tagline.clone(),
            ipa_code: f.ipa_code.clone(),
            cadastral_code: f.cadastral_code.clone(),
            region: f.region.clone(),
            province: f.province.clone(),
            branding: crate::tenancy::model::Branding {
                primary_color: f.branding.primary_color.to_ascii_lowercase(),
                banner_title: f.branding.banner_title.clone(),
                banner_text: f.branding.banner_text.clone(),
                logo_url: asset_url("logo"),
                banner_url: asset_url("banner"),
                css_version: hex::encode(&css_hash.finalize()[..6]),
            },
            contacts: f.contacts.clone(),
            quick_links: f.quick_links.clone(),
            languages: f.languages.clone(),
        }
    }
}

fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn load_asset(dir: &Path, name: &str, file_name: &str) -> anyhow::Result<Asset> {
    let path: PathBuf = dir.join(file_name);
    if path.parent() != Some(dir) {
        bail!("{}: branding files must sit in the tenant folder", path.display());
    }
    let (ext, content_type) = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => ("svg", "image/svg+xml"),
        Some("png") => ("png", "image/png"),
        Some("jpg" | "jpeg") => ("jpg", "image/jpeg"),
        Some("webp") => ("webp", "image/webp"),
        _ => bail!("{}: branding images must be svg, png, jpg or webp", path.display()),
    };
    let body = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if body.len() > 2 * 1024 * 1024 {
        bail!("{}: larger than 2 MiB", path.display());
    }
    let sha256 = hex::encode(Sha256::digest(&body));
    Ok(Asset { name: format!("{name}.{ext}"), content_type, body, sha256 })
}

/// Makes the database match the recipe, in one transaction, as the owner role.
pub async fn apply(admin: &PgPool, recipe: &TenantRecipe, base_domain: &str) -> anyhow::Result<ApplyReport> {
    let profile = serde_json::to_value(recipe.profile())?;
    let auth = serde_json::to_value(&recipe.file.auth)?;
    let existing: Option<Uuid> =
        sqlx::query_scalar("select id from tenants where slug = $1").bind(&recipe.slug).fetch_optional(admin).await?;
    let created = existing.is_none();
    let tenant_id = existing.unwrap_or_else(Uuid::new_v4);
    let mut tx = TenantTx::begin(admin, tenant_id).await?;
    let before = tenant_snapshot(&mut tx).await?;
    // After onboarding the console owns the look too: never overwrite an
    // admin's unpublished work, and say when the recipe replaces a published look.
    let editing: Option<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select updated_by, updated_at from branding_drafts").fetch_optional(tx.conn()).await?;
    if let Some((who, when)) = editing {
        bail!(
            "{}: {who} has been editing the ente's branding in the console since {} (/admin/aspetto): \
             publish or discard that draft before applying the recipe",
            recipe.slug,
            crate::time::format_rome_datetime(when)
        );
    }
    let look_before = look(&mut tx).await?;
    let mut changes = sqlx::query(
        "insert into tenants (id, slug, name, theme, profile, auth) values ($1, $2, $3, $4, $5, $6)
         on conflict (id) do update set name = excluded.name, theme = excluded.theme,
             profile = excluded.profile, auth = excluded.auth, updated_at = now()
         where (tenants.name, tenants.theme, tenants.profile, tenants.auth)
             is distinct from (excluded.name, excluded.theme, excluded.profile, excluded.auth)",
    )
    .bind(tenant_id)
    .bind(&recipe.slug)
    .bind(&recipe.file.name)
    .bind(&recipe.file.theme)
    .bind(&profile)
    .bind(&auth)
    .execute(tx.conn())
    .await?
    .rows_affected();

    let primary = format!("{}.{}", recipe.slug, base_domain);
    changes += attach_domain(tx.conn(), tenant_id, &primary, true).await?;
    for domain in &recipe.file.custom_domains {
        changes += attach_domain(tx.conn(), tenant_id, domain, false).await?;
    }
    for asset in &recipe.assets {
        changes += sqlx::query(
            "insert into tenant_assets (tenant_id, name, content_type, sha256, body) values ($1, $2, $3, $4, $5)
             on conflict (tenant_id, name) do update set content_type = excluded.content_type,
                 sha256 = excluded.sha256, body = excluded.body, updated_at = now()
             where tenant_assets.sha256 is distinct from excluded.sha256",
        )
        .bind(tenant_id)
        .bind(&asset.name)
        .bind(asset.content_type)
        .bind(&asset.sha256)
        .bind(&asset.body)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    let branding_replaced = !created && look(&mut tx).await? != look_before;
    let (catalog_changes, published) =
        catalog::db::sync_catalog(&mut tx, &recipe.catalog, &Actor::system("onboarding")).await?;
    changes += catalog_changes;
    changes += authz::sync_rules(&mut tx, &recipe.rules).await?;
    changes += crate::users::sync_staff_members(&mut tx, &recipe.staff_members).await?;
    let auth = &recipe.file.auth;
    let saml = |m| auth.enabled(m) || auth.staff_may_use(m);
    if saml(Method::Spid) || saml(Method::Cie) {
        changes += ensure_saml_keys(&mut tx, recipe, base_domain).await?;
    }
    if let Some(oidc) = &recipe.file.auth.oidc {
        // The secret comes from the environment of whoever applies the recipe,
        // never from the (committed) recipe itself.
        if let Ok(secret) = std::env::var(&oidc.client_secret_env) {
            changes += set_secret(&mut tx, "oidc_client_secret", &secret).await?;
        }
    }
    if changes > 0 {
        let mut after = tenant_snapshot(&mut tx).await?.unwrap_or_default();
        // The catalog, assets and rules are not in the snapshot: the count says
        // how much of them the apply touched.
        after["changes"] = changes.into();
        audit::append(
            &mut tx,
            &Actor::system("onboarding"),
            Change {
                action: if created { "tenant.create" } else { "tenant.update" },
                object_type: "tenant",
                object_id: recipe.slug.clone(),
                before,
                after: Some(after),
            },
        )
        .await?;
        notify_tenant_changed(tx.conn(), tenant_id).await?;
    }
    tx.commit().await?;
    Ok(ApplyReport { slug: recipe.slug.clone(), created, changes, published, branding_replaced })
}

/// What the console's branding section edits (`publish_tenant_branding`), as
/// stored: compared before and after an apply.
async fn look(tx: &mut TenantTx) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar(
        "select jsonb_build_object('theme', theme, 'tagline', profile->'tagline',
                'quick_links', profile->'quick_links', 'branding', profile->'branding')
         from tenants where id = $1",
    )
    .bind(tx.tenant_id)
    .fetch_optional(tx.conn())
    .await
}

/// The tenant row as the audit trail records it (None before it exists).
async fn tenant_snapshot(tx: &mut TenantTx) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar(
        "select jsonb_build_object('name', name, 'status', status, 'theme', theme, 'profile', profile, 'auth', auth)
         from tenants where id = $1",
    )
    .bind(tx.tenant_id)
    .fetch_optional(tx.conn())
    .await
}

/// The ente's SAML signing key: from the files the recipe names, or generated
/// once (a key is never replaced silently: IdPs know its certificate).
async fn ensure_saml_keys(tx: &mut TenantTx, recipe: &TenantRecipe, base_domain: &str) -> anyhow::Result<u64> {
    let saml = &recipe.file.auth.saml;
    if let (Some(key), Some(cert)) = (&saml.key_file, &saml.cert_file) {
        let key = std::fs::read_to_string(key).with_context(|| format!("{}", key.display()))?;
        let cert = std::fs::read_to_string(cert).with_context(|| format!("{}", cert.display()))?;
        return Ok(set_secret(tx, "saml_sp_key", &key).await? + set_secret(tx, "saml_sp_cert", &cert).await?);
    }
    let present: i64 =
        sqlx::query_scalar("select count(*) from tenant_secrets where name in ('saml_sp_key', 'saml_sp_cert')")
            .fetch_one(tx.conn())
            .await?;
    if present == 2 {
        return Ok(0);
    }
    let entity_id = saml
        .entity_id
        .clone()
        .unwrap_or_else(|| format!("https://{}.{base_domain}/accesso/spid/metadata", recipe.slug));
    let f = &recipe.file;
    let (key, cert) = crate::auth::spid::generate_sp_certificate(&entity_id, &f.ipa_code, &f.name, &f.short_name)?;
    Ok(set_secret(tx, "saml_sp_key", &key).await? + set_secret(tx, "saml_sp_cert", &cert).await?)
}

async fn set_secret(tx: &mut TenantTx, name: &str, value: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "insert into tenant_secrets (tenant_id, name, value) values ($1, $2, $3)
         on conflict (tenant_id, name) do update set value = excluded.value, updated_at = now()
         where tenant_secrets.value is distinct from excluded.value",
    )
    .bind(tx.tenant_id)
    .bind(name)
    .bind(value)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Adds `host` to the tenant; refuses a host that already belongs to another one.
async fn attach_domain(conn: &mut PgConnection, tenant_id: Uuid, host: &str, primary: bool) -> anyhow::Result<u64> {
    let owner: Option<Uuid> = sqlx::query_scalar("select tenant_id from tenant_domains where host = $1")
        .bind(host)
        .fetch_optional(&mut *conn)
        .await?;
    match owner {
        Some(owner) if owner == tenant_id => Ok(0),
        Some(_) => bail!("the domain {host} already belongs to another tenant"),
        None => {
            if primary {
                sqlx::query("update tenant_domains set is_primary = false where tenant_id = $1 and is_primary")
                    .bind(tenant_id)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("insert into tenant_domains (host, tenant_id, is_primary) values ($1, $2, $3)")
                .bind(host)
                .bind(tenant_id)
                .bind(primary)
                .execute(&mut *conn)
                .await?;
            Ok(1)
        }
    }
}

pub use crate::tenancy::notify_changed as notify_tenant_changed;

/// Lists the tenant folders (those holding a `tenant.toml`) under `root`.
pub fn tenant_dirs(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("tenant.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

#[derive(Debug, sqlx::FromRow, Serialize)]
pub struct TenantRow {
    pub slug: String,
    pub name: String,
    pub status: String,
    pub theme: String,
    pub hosts: Vec<String>,
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<TenantRow>> {
    sqlx::query_as(
        "select t.slug, t.name, t.status, t.theme,
                coalesce(array_agg(d.host order by d.is_primary desc, d.host) filter (where d.host is not null), '{}') as hosts
         from tenants t left join tenant_domains d on d.tenant_id = t.id
         group by t.id order by t.slug",
    )
    .fetch_all(pool)
    .await
}

/// Sets the tenant's status; `Ok(false)` when no tenant has that slug.
pub async fn set_status(
    admin: &PgPool,
    slug: &str,
    status: crate::tenancy::model::TenantStatus,
) -> anyhow::Result<bool> {
    let status = match status {
        crate::tenancy::model::TenantStatus::Active => "active",
        crate::tenancy::model::TenantStatus::Suspended => "suspended",
    };
    let mut tx = admin.begin().await?;
    let id: Option<Uuid> =
        sqlx::query_scalar("update tenants set status = $2, updated_at = now() where slug = $1 returning id")
            .bind(slug)
            .bind(status)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(id) = id {
        notify_tenant_changed(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(id.is_some())
}

/// Attaches a custom domain to a tenant (`sportello tenant domain add`).
pub async fn add_domain(admin: &PgPool, slug: &str, host: &str) -> anyhow::Result<()> {
    let host = normalize_host(host).map_err(|_| anyhow::anyhow!("{host:?} is not a valid host name"))?;
    let mut tx = admin.begin().await?;
    let id: Uuid = sqlx::query_scalar("select id from tenants where slug = $1")
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?
        .with_context(|| format!("no tenant {slug}"))?;
    if attach_domain(&mut tx, id, &host, false).await? > 0 {
        notify_tenant_changed(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Detaches a custom domain; the primary `<slug>.<base>` host cannot be removed.
pub async fn remove_domain(admin: &PgPool, host: &str) -> anyhow::Result<bool> {
    let host = normalize_host(host).map_err(|_| anyhow::anyhow!("{host:?} is not a valid host name"))?;
    let mut tx = admin.begin().await?;
    let id: Option<Uuid> =
        sqlx::query_scalar("delete from tenant_domains where host = $1 and not is_primary returning tenant_id")
            .bind(&host)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(id) = id {
        notify_tenant_changed(&mut tx, id).await?;
    }
    tx.commit().await?;
    Ok(id.is_some())
}
