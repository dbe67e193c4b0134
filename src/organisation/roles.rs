//! Staff roles and what each may do: the built-in roles, the ente's own, and
//! the permissions the console's matrix shows — Casbin `p` rules of the
//! ente's policy (`authz_rules`). A role changed in the matrix is the
//! console's from then on (`staff_roles`): `tenant apply` leaves its
//! permissions alone.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::{
    audit::{self, Actor, Change},
    db::TenantTx,
};

/// The roles every ente has, in the matrix's order.
pub const BUILT_IN: [&str; 4] = ["operator", "office_head", "reviewer", "admin"];

/// The message key naming a built-in role in the visitor's language.
pub fn built_in_label(key: &str) -> Option<&'static str> {
    Some(match key {
        "operator" => "admin.roles.operator",
        "office_head" => "admin.roles.office_head",
        "reviewer" => "admin.roles.reviewer",
        "admin" => "admin.roles.admin",
        _ => return None,
    })
}

/// Every role key the ente knows (and `extra` ones seen elsewhere) with what
/// to call it: the console's word for a built-in role, the ente's own label,
/// else the key itself. `word` turns a message key into text.
pub async fn labels(
    tx: &mut TenantTx,
    extra: impl IntoIterator<Item = String>,
    word: impl Fn(&'static str) -> String,
) -> sqlx::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for key in extra {
        out.insert(key.clone(), built_in_label(&key).map(&word).unwrap_or(key));
    }
    for role in all(tx).await? {
        let label = match built_in_label(&role.key) {
            Some(k) => word(k),
            None => role.label.clone(),
        };
        out.insert(role.key, label);
    }
    Ok(out)
}

/// Names no role of the ente's may take: what the policy means by itself.
const RESERVED: [&str; 3] = ["citizen", "platform", "system"];

/// One permission as the matrix shows it: an object and an action of the policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Permission {
    pub obj: String,
    pub act: String,
}

impl Permission {
    fn new(obj: &str, act: &str) -> Self {
        Self { obj: obj.into(), act: act.into() }
    }

    /// `obj|act`, as the matrix's checkboxes post it.
    pub fn key(&self) -> String {
        format!("{}|{}", self.obj, self.act)
    }

    /// The office it is about, for a permission on one office.
    pub fn office(&self) -> Option<&str> {
        self.obj.strip_prefix("office:").filter(|c| *c != "own" && *c != "*")
    }
}

/// The actions on an office's cases.
pub const OFFICE_ACTIONS: [&str; 3] = ["read", "process", "assign"];

/// Every permission of the matrix: the console and the back office, then the
/// cases of one's own offices and of every office, then of each office.
pub fn permissions(office_codes: &[String]) -> Vec<Permission> {
    let mut out = vec![
        Permission::new("backoffice", "read"),
        Permission::new("admin_console", "read"),
        Permission::new("admin_console", "write"),
    ];
    for obj in ["office:own", "office:*"] {
        out.extend(OFFICE_ACTIONS.iter().map(|act| Permission::new(obj, act)));
    }
    for code in office_codes {
        out.extend(OFFICE_ACTIONS.iter().map(|act| Permission::new(&format!("office:{code}"), act)));
    }
    out
}

/// A permission the admin role always holds: without it nobody could run the
/// console (the matrix shows it ticked and locked).
pub fn locked(role: &str, permission: &Permission) -> bool {
    role == super::staff::ADMIN_ROLE && permission.obj == "admin_console"
}

/// A role of the matrix.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Role {
    pub key: String,
    /// The ente's own name for it; empty for a built-in role (the console names those).
    pub label: String,
    pub built_in: bool,
}

/// The built-in roles, then the ente's own by name.
pub async fn all(tx: &mut TenantTx) -> sqlx::Result<Vec<Role>> {
    let own: Vec<Role> =
        sqlx::query_as("select key, label, built_in from staff_roles where not built_in order by label, key")
            .fetch_all(tx.conn())
            .await?;
    let mut roles: Vec<Role> =
        BUILT_IN.iter().map(|k| Role { key: k.to_string(), label: String::new(), built_in: true }).collect();
    roles.extend(own);
    Ok(roles)
}

/// A key for a new role from its name: lower-case ASCII words joined by `-`.
pub fn key_for(label: &str) -> String {
    let mut key = String::new();
    for c in label.trim().chars() {
        let c = match c {
            'à' | 'á' => 'a',
            'è' | 'é' => 'e',
            'ì' | 'í' => 'i',
            'ò' | 'ó' => 'o',
            'ù' | 'ú' => 'u',
            c => c.to_ascii_lowercase(),
        };
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    let key = key.trim_end_matches('-').chars().take(40).collect::<String>();
    key.trim_end_matches('-').to_string()
}

/// Why a new role cannot be made, as a message key; `None` when it can.
pub async fn refusal_of_new(tx: &mut TenantTx, key: &str) -> sqlx::Result<Option<&'static str>> {
    if key.len() < 2 || !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Ok(Some("admin.roles.check_name"));
    }
    let taken: bool = sqlx::query_scalar("select exists (select from staff_roles where key = $1)")
        .bind(key)
        .fetch_one(tx.conn())
        .await?;
    if taken || BUILT_IN.contains(&key) || RESERVED.contains(&key) {
        return Ok(Some("admin.roles.check_taken"));
    }
    Ok(None)
}

/// Makes one of the ente's own roles (with no permission yet).
pub async fn create(tx: &mut TenantTx, key: &str, label: &str, by: &Actor) -> sqlx::Result<()> {
    sqlx::query("insert into staff_roles (tenant_id, key, label, created_by) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id)
        .bind(key)
        .bind(label)
        .bind(&by.label)
        .execute(tx.conn())
        .await?;
    let after = serde_json::json!({ "label": label });
    let change =
        Change { action: "roles.create", object_type: "role", object_id: key.into(), before: None, after: Some(after) };
    audit::append(tx, by, change).await?;
    Ok(())
}

/// Every `(role, permission)` the policy grants among `permissions`.
pub async fn grants(tx: &mut TenantTx, permissions: &[Permission]) -> sqlx::Result<BTreeSet<(String, Permission)>> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("select v0, v2, v3 from authz_rules where ptype = 'p'").fetch_all(tx.conn()).await?;
    Ok(rows
        .into_iter()
        .map(|(role, obj, act)| (role, Permission { obj, act }))
        .filter(|(_, p)| permissions.contains(p))
        .collect())
}

/// What a save of the matrix changes.
#[derive(Debug, Default, Serialize)]
pub struct MatrixChange {
    pub added: Vec<(String, Permission)>,
    pub removed: Vec<(String, Permission)>,
}

impl MatrixChange {
    pub fn between(before: &BTreeSet<(String, Permission)>, after: &BTreeSet<(String, Permission)>) -> Self {
        Self {
            added: after.difference(before).cloned().collect(),
            removed: before.difference(after).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Writes a checked change of the matrix: the roles it touches become the
/// console's; one audit entry lists what was added and removed.
pub async fn apply(tx: &mut TenantTx, change: &MatrixChange, by: &Actor) -> sqlx::Result<()> {
    let touched: BTreeSet<&str> = change.added.iter().chain(&change.removed).map(|(role, _)| role.as_str()).collect();
    for role in &touched {
        sqlx::query(
            "insert into staff_roles (tenant_id, key, label, built_in, created_by) values ($1, $2, '', true, $3)
             on conflict (tenant_id, key) do nothing",
        )
        .bind(tx.tenant_id)
        .bind(role)
        .bind(&by.label)
        .execute(tx.conn())
        .await?;
    }
    for (role, p) in &change.removed {
        sqlx::query("delete from authz_rules where ptype = 'p' and v0 = $1 and v2 = $2 and v3 = $3")
            .bind(role)
            .bind(&p.obj)
            .bind(&p.act)
            .execute(tx.conn())
            .await?;
    }
    for (role, p) in &change.added {
        sqlx::query(
            "insert into authz_rules (tenant_id, ptype, v0, v1, v2, v3, origin)
             select $1, 'p', $2, slug, $3, $4, 'console' from tenants where id = $1
             on conflict do nothing",
        )
        .bind(tx.tenant_id)
        .bind(role)
        .bind(&p.obj)
        .bind(&p.act)
        .execute(tx.conn())
        .await?;
    }
    let line = |(role, p): &(String, Permission)| format!("{role}: {} {}", p.obj, p.act);
    let after = serde_json::json!({
        "added": change.added.iter().map(line).collect::<Vec<_>>(),
        "removed": change.removed.iter().map(line).collect::<Vec<_>>(),
    });
    let entry = Change {
        action: "roles.permissions",
        object_type: "policy",
        object_id: "matrix".into(),
        before: None,
        after: Some(after),
    };
    audit::append(tx, by, entry).await?;
    Ok(())
}

/// The permissions `role` has among `permissions`.
pub fn of_role<'a>(grants: &'a BTreeSet<(String, Permission)>, role: &'a str) -> impl Iterator<Item = &'a Permission> {
    grants.iter().filter(move |(r, _)| r == role).map(|(_, p)| p)
}

/// Every `p` rule of `role`, whatever its object (for what granting it gives).
pub async fn rules_of(tx: &mut TenantTx, role: &str) -> sqlx::Result<Vec<Permission>> {
    let rows: Vec<(String, String)> = sqlx::query_as("select v2, v3 from authz_rules where ptype = 'p' and v0 = $1")
        .bind(role)
        .fetch_all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(|(obj, act)| Permission { obj, act }).collect())
}
