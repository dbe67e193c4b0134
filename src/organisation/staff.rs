//! The ente's staff as stored: everyone the ente names as staff (`staff_members`,
//! and `staff:<email>` subjects of its rules), with their roles, offices
//! (`uo:<code>`), how they sign in, when they last did and their standing
//! (invited, active, deactivated). What the console changes here is the
//! console's from then on (`origin`): `tenant apply` no longer touches it.
//! Who may grant what is checked above, where the policy is enforced
//! (`admin::staff`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    audit::{self, Actor, Change},
    db::TenantTx,
};

/// The role that runs the console: the last one holding it cannot lose it.
pub const ADMIN_ROLE: &str = "admin";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StaffLine {
    pub email: String,
    /// From their user record, once they have signed in.
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub offices: Vec<String>,
    /// SPID or CIE with this fiscal code.
    pub fiscal_code: Option<String>,
    /// The ente's identity provider has signed them in.
    pub provider: bool,
    /// A local account with password and TOTP.
    pub local_account: bool,
    pub last_sign_in: Option<DateTime<Utc>>,
    /// `invited`, `active` or `deactivated` (`active` for someone only the policy names).
    pub status: String,
    /// The method the admin chose (`SignIn::as_str`), if any.
    pub sign_in: Option<String>,
}

/// How an invited staff member signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignIn {
    /// The ente's OpenID Connect provider, matched by e-mail.
    Provider,
    /// SPID or CIE, matched by fiscal code.
    SpidCie,
    /// A local account: password and an authenticator app.
    Local,
}

impl SignIn {
    pub const ALL: [SignIn; 3] = [SignIn::Provider, SignIn::SpidCie, SignIn::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            SignIn::Provider => "provider",
            SignIn::SpidCie => "spid_cie",
            SignIn::Local => "local",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

const LIST: &str = "with subjects as (
         select email from staff_members
         union
         select substr(v0, 7) from authz_rules where ptype = 'g' and v0 like 'staff:%'
     ),
     granted as (
         select substr(v0, 7) as email, v1 as role from authz_rules where ptype = 'g' and v0 like 'staff:%'
     )
     select s.email,
            (select nullif(trim(u.given_name || ' ' || u.family_name), '') from users u
              where u.is_staff and lower(u.email) = s.email limit 1) as name,
            coalesce((select array_agg(g.role order by g.role) from granted g
                       where g.email = s.email and g.role not like 'uo:%'), '{}') as roles,
            coalesce((select array_agg(substr(g.role, 4) order by g.role) from granted g
                       where g.email = s.email and g.role like 'uo:%'), '{}') as offices,
            m.fiscal_code,
            exists (select from staff_identities i where lower(i.email) = s.email) as provider,
            exists (select from staff_accounts a where a.email = s.email) as local_account,
            greatest((select max(i.last_seen_at) from staff_identities i where lower(i.email) = s.email),
                     (select a.last_sign_in_at from staff_accounts a where a.email = s.email),
                     (select max(x.created_at) from sessions x where x.staff_subject = 'staff:' || s.email))
                as last_sign_in,
            coalesce(m.status, 'active') as status,
            m.sign_in
     from subjects s left join staff_members m on m.email = s.email";

pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<StaffLine>> {
    sqlx::query_as(&format!("{LIST} order by s.email")).fetch_all(tx.conn()).await
}

/// One staff member, by (lower-case) e-mail.
pub async fn member(tx: &mut TenantTx, email: &str) -> sqlx::Result<Option<StaffLine>> {
    sqlx::query_as(&format!("{LIST} where s.email = $1")).bind(email).fetch_optional(tx.conn()).await
}

/// Who holds `fiscal_code` among the staff, if anyone.
pub async fn holder_of_fiscal_code(tx: &mut TenantTx, fiscal_code: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select email from staff_members where fiscal_code = $1")
        .bind(fiscal_code)
        .fetch_optional(tx.conn())
        .await
}

/// Roles (built-in and the ente's) and offices a staff member is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Access {
    pub roles: Vec<String>,
    pub offices: Vec<String>,
}

/// Someone the admin invites; checked by the caller.
pub struct Invitation<'a> {
    pub email: &'a str,
    pub sign_in: SignIn,
    pub fiscal_code: Option<&'a str>,
    pub access: &'a Access,
}

/// Adds the invited staff member with their roles and offices (the console's
/// from now on). The link that lets them in is made by the caller.
pub async fn add_invited(tx: &mut TenantTx, invitation: &Invitation<'_>, by: &Actor) -> sqlx::Result<()> {
    sqlx::query(
        "insert into staff_members (tenant_id, email, fiscal_code, status, sign_in, origin, changed_by)
         values ($1, $2, $3, 'invited', $4, 'console', $5)",
    )
    .bind(tx.tenant_id)
    .bind(invitation.email)
    .bind(invitation.fiscal_code)
    .bind(invitation.sign_in.as_str())
    .bind(&by.label)
    .execute(tx.conn())
    .await?;
    write_access(tx, invitation.email, invitation.access).await?;
    audit::append(
        tx,
        by,
        Change {
            action: "staff.invite",
            object_type: "staff",
            object_id: invitation.email.to_string(),
            before: None,
            after: Some(serde_json::json!({
                "sign_in": invitation.sign_in.as_str(),
                "fiscal_code": invitation.fiscal_code,
                "roles": invitation.access.roles,
                "offices": invitation.access.offices,
            })),
        },
    )
    .await?;
    Ok(())
}

/// Replaces a staff member's roles and offices; they become the console's.
pub async fn set_access(tx: &mut TenantTx, email: &str, access: &Access, by: &Actor) -> sqlx::Result<bool> {
    let Some(before) = member(tx, email).await? else { return Ok(false) };
    let old = Access { roles: before.roles.clone(), offices: before.offices.clone() };
    if old == *access {
        return Ok(true);
    }
    take_over(tx, email, by).await?;
    write_access(tx, email, access).await?;
    audit::append(
        tx,
        by,
        Change {
            action: "staff.access",
            object_type: "staff",
            object_id: email.to_string(),
            before: Some(serde_json::to_value(&old).unwrap_or_default()),
            after: Some(serde_json::to_value(access).unwrap_or_default()),
        },
    )
    .await?;
    Ok(true)
}

/// The row is the console's (made for someone only the policy named).
async fn take_over(tx: &mut TenantTx, email: &str, by: &Actor) -> sqlx::Result<()> {
    sqlx::query(
        "insert into staff_members (tenant_id, email, origin, changed_by) values ($1, $2, 'console', $3)
         on conflict (tenant_id, email) do update set origin = 'console', changed_by = excluded.changed_by,
             changed_at = now()",
    )
    .bind(tx.tenant_id)
    .bind(email)
    .bind(&by.label)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn write_access(tx: &mut TenantTx, email: &str, access: &Access) -> sqlx::Result<()> {
    let subject = format!("staff:{email}");
    sqlx::query("delete from authz_rules where ptype = 'g' and v0 = $1").bind(&subject).execute(tx.conn()).await?;
    let groups = access.roles.iter().cloned().chain(access.offices.iter().map(|o| format!("uo:{o}")));
    for group in groups {
        sqlx::query(
            "insert into authz_rules (tenant_id, ptype, v0, v1, v2, origin)
             select $1, 'g', $2, $3, slug, 'console' from tenants where id = $1
             on conflict do nothing",
        )
        .bind(tx.tenant_id)
        .bind(&subject)
        .bind(&group)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// The active staff holding the admin role, by e-mail.
pub async fn active_admins(tx: &mut TenantTx) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select substr(r.v0, 7) from authz_rules r
         left join staff_members m on m.email = substr(r.v0, 7)
         where r.ptype = 'g' and r.v0 like 'staff:%' and r.v1 = $1 and coalesce(m.status, 'active') = 'active'
         order by 1",
    )
    .bind(ADMIN_ROLE)
    .fetch_all(tx.conn())
    .await
}

/// Deactivates a staff member: they can no longer sign in, and every session
/// of theirs ends now (sessions are read from the database on every request,
/// on every node). What they did stays attributed to them.
pub async fn deactivate(tx: &mut TenantTx, email: &str, by: &Actor) -> sqlx::Result<u64> {
    take_over(tx, email, by).await?;
    sqlx::query(
        "update staff_members set status = 'deactivated', changed_by = $2, changed_at = now() where email = $1",
    )
    .bind(email)
    .bind(&by.label)
    .execute(tx.conn())
    .await?;
    let ended = sqlx::query("delete from sessions where staff_subject = $1")
        .bind(format!("staff:{email}"))
        .execute(tx.conn())
        .await?
        .rows_affected();
    // An unused invitation is void too.
    void_links(tx, email).await?;
    audit::append(
        tx,
        by,
        Change {
            action: "staff.deactivate",
            object_type: "staff",
            object_id: email.to_string(),
            before: None,
            after: Some(serde_json::json!({ "sessions_ended": ended })),
        },
    )
    .await?;
    Ok(ended)
}

/// Voids every unused link (invitation or enrolment) of `email`.
pub async fn void_links(tx: &mut TenantTx, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update staff_enrolments set expires_at = now() where email = $1 and used_at is null and expires_at > now()",
    )
    .bind(email)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An invited member who came in through their link is active from now on.
pub async fn accepted(tx: &mut TenantTx, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update staff_members set status = 'active', changed_at = now() where email = $1 and status = 'invited'",
    )
    .bind(email)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Lets a deactivated staff member in again, with the roles they had.
pub async fn reactivate(tx: &mut TenantTx, email: &str, by: &Actor) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update staff_members set status = 'active', changed_by = $2, changed_at = now()
         where email = $1 and status = 'deactivated'",
    )
    .bind(email)
    .bind(&by.label)
    .execute(tx.conn())
    .await?
    .rows_affected()
        > 0;
    if done {
        let change = Change {
            action: "staff.reactivate",
            object_type: "staff",
            object_id: email.to_string(),
            before: None,
            after: None,
        };
        audit::append(tx, by, change).await?;
    }
    Ok(done)
}

/// A staff session of theirs, as their own page lists it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct StaffSession {
    pub method: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: String,
    pub current: bool,
}

/// The live staff sessions of `subject`; `current` marks the one asking.
pub async fn sessions(tx: &mut TenantTx, subject: &str, current: &[u8]) -> sqlx::Result<Vec<StaffSession>> {
    sqlx::query_as(
        "select method, created_at, last_seen_at, user_agent, token_hash = $2 as current from sessions
         where staff_subject = $1 and expires_at > now() order by created_at desc",
    )
    .bind(subject)
    .bind(current)
    .fetch_all(tx.conn())
    .await
}
