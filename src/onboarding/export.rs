//! `sportello tenant export <slug> <dir>`: the recipe of an ente as the
//! database holds it now, so that what the console changed can be committed
//! and applied elsewhere. Applying the export changes nothing where it came
//! from; applied to an empty database and exported again, it gives the same
//! bytes. Secrets and keys never leave the database; neither do cases, nor
//! procedures that are unpublished or archived.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{BrandingFile, StaffSpec, TenantFile};
use crate::{
    auth::authz,
    catalog,
    db::TenantTx,
    procedure::spec::{CategorySpec, OfficeSpec, ProcedureSpec},
    tenancy::{model::Profile, AuthSettings},
};

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    /// `<dir>/<slug>`.
    pub dir: PathBuf,
    /// Its files, relative to `dir`, sorted.
    pub files: Vec<String>,
    pub procedures: usize,
}

/// Writes `<out>/<slug>/` from the database: `tenant.toml`, the branding files,
/// `policy.csv` when the ente's policy is not the platform default, and one
/// `procedures/<slug>.toml` per published procedure (its published revision).
/// Refuses to write over a folder that is not empty: a stale procedure file
/// left there would be applied with the rest.
pub async fn export(admin: &PgPool, slug: &str, out: &Path) -> anyhow::Result<Exported> {
    let tenant_id: Option<Uuid> =
        sqlx::query_scalar("select id from tenants where slug = $1").bind(slug).fetch_optional(admin).await?;
    let Some(tenant_id) = tenant_id else {
        bail!("no ente with slug {slug:?} (see `sportello tenant list`)");
    };
    let target = out.join(slug);
    if target.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{} already exists and is not empty: export into a new folder", target.display());
    }
    // One read-only snapshot: an export never changes the ente, and what it
    // writes is the ente at one instant (a publication in the middle of it
    // cannot give the new procedures with the old categories).
    let mut tx = TenantTx::begin_snapshot(admin, tenant_id).await?;
    let (name, theme, profile, auth): (String, String, serde_json::Value, serde_json::Value) =
        sqlx::query_as("select name, theme, profile, auth from tenants where id = $1")
            .bind(tenant_id)
            .fetch_one(tx.conn())
            .await?;
    let profile: Profile = serde_json::from_value(profile).context("the tenant's stored profile")?;
    let auth: AuthSettings = serde_json::from_value(auth).context("the tenant's stored sign-in settings")?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();

    let custom_domains: Vec<String> =
        sqlx::query_scalar("select host from tenant_domains where tenant_id = $1 and not is_primary order by host")
            .bind(tenant_id)
            .fetch_all(tx.conn())
            .await?;

    // The assets the profile points at (`/branding/<name>?v=…`): an older logo
    // of another format may still be stored, unused.
    let branding_file = |url: &Option<String>| -> anyhow::Result<Option<String>> {
        let Some(url) = url else { return Ok(None) };
        let name = url
            .strip_prefix("/branding/")
            .and_then(|rest| rest.split('?').next())
            .with_context(|| format!("branding address {url:?}"))?;
        Ok(Some(name.to_string()))
    };
    let logo = branding_file(&profile.branding.logo_url)?;
    let banner = branding_file(&profile.branding.banner_url)?;
    for name in logo.iter().chain(banner.iter()) {
        let body: Vec<u8> = sqlx::query_scalar("select body from tenant_assets where tenant_id = $1 and name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(tx.conn())
            .await?
            .with_context(|| format!("the branding file {name} is not stored"))?;
        files.push((name.clone(), body));
    }

    let categories: Vec<(String, String, String)> =
        sqlx::query_as("select slug, name, description from categories where tenant_id = $1 order by position, slug")
            .bind(tenant_id)
            .fetch_all(tx.conn())
            .await?;
    let categories: Vec<CategorySpec> =
        categories.into_iter().map(|(slug, name, description)| CategorySpec { slug, name, description }).collect();
    let offices: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "select code, name, email, phone, address, opening_hours from offices where tenant_id = $1 order by code",
    )
    .bind(tenant_id)
    .fetch_all(tx.conn())
    .await?;
    let offices: Vec<OfficeSpec> = offices
        .into_iter()
        .map(|(code, name, email, phone, address, opening_hours)| OfficeSpec {
            code,
            name,
            email,
            phone,
            address,
            opening_hours,
        })
        .collect();

    let members: Vec<(String, Option<String>)> =
        sqlx::query_as("select email, fiscal_code from staff_members where tenant_id = $1 order by email")
            .bind(tenant_id)
            .fetch_all(tx.conn())
            .await?;
    let rules: Vec<(String, String, String, String, String)> =
        sqlx::query_as("select ptype, v0, v1, v2, v3 from authz_rules where tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(tx.conn())
            .await?;
    let rules: BTreeSet<[String; 5]> = rules.into_iter().map(|(a, b, c, d, e)| [a, b, c, d, e]).collect();
    let office_codes: BTreeSet<&str> = offices.iter().map(|o| o.code.as_str()).collect();
    let (staff, policy) = split_rules(&rules, &members, &office_codes);
    let default_policy: BTreeSet<[String; 5]> = authz::parse_policy(authz::DEFAULT_POLICY, slug)?.into_iter().collect();
    if policy != default_policy {
        files.push(("policy.csv".into(), policy_csv(&policy).into_bytes()));
    }

    let procedures: Vec<(String, String, i32)> = sqlx::query_as(
        "select slug, category_slug, position from procedures
         where tenant_id = $1 and published and not archived order by position, slug",
    )
    .bind(tenant_id)
    .fetch_all(tx.conn())
    .await?;
    let procedure_count = procedures.len();
    for (procedure, category, position) in procedures {
        let (_, content) = catalog::revisions::published(&mut tx, &procedure)
            .await?
            .with_context(|| format!("procedure {procedure} vanished during the export"))?;
        let spec = ProcedureSpec { slug: procedure.clone(), category, position: Some(position), content };
        files.push((format!("procedures/{procedure}.toml"), spec.to_toml()?.into_bytes()));
    }
    tx.rollback().await?;

    let file = TenantFile {
        name,
        short_name: profile.short_name,
        theme,
        ipa_code: profile.ipa_code,
        cadastral_code: profile.cadastral_code,
        tagline: profile.tagline,
        region: profile.region,
        province: profile.province,
        custom_domains,
        // A profile stored before languages existed means Italian only.
        languages: if profile.languages.is_empty() { vec!["it".into()] } else { profile.languages },
        branding: BrandingFile {
            primary_color: profile.branding.primary_color,
            logo,
            banner,
            banner_title: profile.branding.banner_title,
            banner_text: profile.branding.banner_text,
        },
        contacts: profile.contacts,
        quick_links: profile.quick_links,
        categories,
        offices,
        auth,
        staff,
    };
    let text = format!(
        "# Exported by `sportello tenant export {slug}`: the ente as its database held it.\n\
         # Secrets and keys are not here (see docs/TENANTS.md).\n\n{}",
        toml::to_string(&file)?
    );
    files.push(("tenant.toml".into(), text.into_bytes()));
    files.sort();

    // Written beside the target and renamed into place: an export that fails
    // halfway leaves no folder that looks like a recipe.
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let staging = out.join(format!(".{slug}.export-{}", Uuid::new_v4().simple()));
    let written = write_files(&staging, &files).and_then(|()| {
        std::fs::rename(&staging, &target).with_context(|| format!("moving the export to {}", target.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    Ok(Exported { dir: target, files: files.into_iter().map(|(name, _)| name).collect(), procedures: procedure_count })
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
    for (name, body) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Splits the ente's rules into `[[staff]]` (the `g, staff:<email>, …` lines of
/// the staff members) and its policy, leaving out the lines `TenantRecipe::load`
/// generates for each office, so that loading the export makes the same set.
fn split_rules(
    rules: &BTreeSet<[String; 5]>,
    members: &[(String, Option<String>)],
    offices: &BTreeSet<&str>,
) -> (Vec<StaffSpec>, BTreeSet<[String; 5]>) {
    let mut staff: Vec<StaffSpec> = members
        .iter()
        .map(|(email, fiscal_code)| StaffSpec {
            email: email.clone(),
            roles: Vec::new(),
            offices: Vec::new(),
            fiscal_code: fiscal_code.clone(),
        })
        .collect();
    let mut policy = BTreeSet::new();
    for rule in rules {
        let [ptype, subject, second, object, action] = rule;
        if ptype == "g" {
            let member = subject.strip_prefix("staff:").and_then(|email| staff.iter_mut().find(|s| s.email == email));
            if let Some(member) = member {
                match second.strip_prefix("uo:").filter(|code| offices.contains(code)) {
                    Some(code) => member.offices.push(code.to_string()),
                    None => member.roles.push(second.clone()),
                }
                continue;
            }
        } else if ptype == "p" && (action == "read" || action == "process") {
            let generated = subject
                .strip_prefix("uo:")
                .is_some_and(|code| offices.contains(code) && object.strip_prefix("office:") == Some(code));
            if generated {
                continue;
            }
        }
        policy.insert(rule.clone());
    }
    // The rules come sorted, so roles and offices are too.
    (staff, policy)
}

/// `policy.csv` lines (`parse_policy` adds the domain back): the permissions,
/// then the role assignments not of a listed staff member, each sorted.
fn policy_csv(policy: &BTreeSet<[String; 5]>) -> String {
    let mut text = String::from(
        "# The ente's authorization policy, exported from its database; it replaces the\n\
         # platform default (src/auth/default_policy.csv). Office lines are generated.\n",
    );
    for [ptype, subject, _domain, object, action] in policy.iter().filter(|r| r[0] == "p") {
        text.push_str(&format!("{ptype}, {subject}, {object}, {action}\n"));
    }
    for [ptype, subject, role, _domain, _] in policy.iter().filter(|r| r[0] == "g") {
        text.push_str(&format!("{ptype}, {subject}, {role}\n"));
    }
    text
}

/// `[auth]` without what equals the default, table by table, so the file says
/// only what the ente chose.
pub(super) fn auth_without_defaults<S: serde::Serializer>(
    auth: &AuthSettings,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let mut table = toml::Table::try_from(auth).map_err(S::Error::custom)?;
    let defaults = toml::Table::try_from(AuthSettings::default()).map_err(S::Error::custom)?;
    prune_defaults(&mut table, &defaults);
    table.serialize(serializer)
}

fn prune_defaults(table: &mut toml::Table, defaults: &toml::Table) {
    table.retain(|key, value| match (value, defaults.get(key)) {
        (toml::Value::Table(inner), Some(toml::Value::Table(default))) => {
            prune_defaults(inner, default);
            !inner.is_empty()
        }
        (value, Some(default)) => value != default,
        (_, None) => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fields: [&str; 5]) -> [String; 5] {
        fields.map(str::to_string)
    }

    #[test]
    fn staff_lines_and_office_lines_leave_the_policy() {
        let rules: BTreeSet<[String; 5]> = [
            rule(["p", "operator", "v", "backoffice", "read"]),
            rule(["p", "uo:UO-A", "v", "office:UO-A", "read"]),
            rule(["p", "uo:UO-A", "v", "office:UO-A", "process"]),
            // Another office's cases: the ente's own choice, kept.
            rule(["p", "uo:UO-A", "v", "office:UO-B", "read"]),
            rule(["g", "staff:a@v.it", "operator", "v", ""]),
            rule(["g", "staff:a@v.it", "admin", "v", ""]),
            rule(["g", "staff:a@v.it", "uo:UO-A", "v", ""]),
            // Not a listed staff member: stays a policy line.
            rule(["g", "staff:b@v.it", "operator", "v", ""]),
        ]
        .into_iter()
        .collect();
        let members = [("a@v.it".to_string(), Some("RSSMRA80A01H501U".to_string()))];
        let offices: BTreeSet<&str> = ["UO-A", "UO-B"].into_iter().collect();
        let (staff, policy) = split_rules(&rules, &members, &offices);
        assert_eq!(staff.len(), 1);
        assert_eq!(staff[0].roles, ["admin", "operator"]);
        assert_eq!(staff[0].offices, ["UO-A"]);
        assert_eq!(staff[0].fiscal_code.as_deref(), Some("RSSMRA80A01H501U"));
        assert_eq!(
            policy_csv(&policy).lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>(),
            ["p, operator, backoffice, read", "p, uo:UO-A, office:UO-B, read", "g, staff:b@v.it, operator"]
        );
        let reparsed: BTreeSet<[String; 5]> =
            authz::parse_policy(&policy_csv(&policy), "v").unwrap().into_iter().collect();
        assert_eq!(reparsed, policy);
    }

    #[test]
    fn auth_keeps_only_what_differs_from_the_default() {
        #[derive(Serialize, serde::Deserialize)]
        struct File {
            #[serde(serialize_with = "auth_without_defaults")]
            auth: AuthSettings,
        }
        let mut auth = AuthSettings { sms_sender: "ComValmora".into(), ..AuthSettings::default() };
        auth.staff.methods = vec![crate::tenancy::Method::Local];
        let text = toml::to_string(&File { auth: auth.clone() }).unwrap();
        assert!(text.contains("sms_sender = \"ComValmora\""), "{text}");
        assert!(text.contains("methods = [\"local\"]"), "{text}");
        assert!(!text.contains("sms_daily_budget") && !text.contains("min_level") && !text.contains("+39"), "{text}");
        // Read back, the defaults come back.
        let back: File = toml::from_str(&text).unwrap();
        assert_eq!(back.auth, auth);
    }
}
