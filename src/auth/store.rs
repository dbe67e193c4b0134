//! The SQL of the sign-in methods: pending SAML requests and their replay
//! records, the ente's sign-in secrets, staff membership and the bindings of
//! staff identities asserted by the ente's provider. Sessions and sign-in
//! flows are `session`'s, one-time codes `otp`'s, the people `crate::users`.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{db::TenantTx, users};

/// One of the ente's secrets (`tenant_secrets`), written by onboarding.
#[derive(sqlx::FromRow)]
pub struct TenantSecret {
    pub name: String,
    pub value: String,
}

/// The secrets among `names` that the ente has.
pub async fn tenant_secrets(tx: &mut TenantTx, names: &[&str]) -> sqlx::Result<Vec<TenantSecret>> {
    sqlx::query_as("select name, value from tenant_secrets where name = any($1)").bind(names).fetch_all(tx.conn()).await
}

/// The ente's secret `name`, if it has one.
pub async fn tenant_secret(tx: &mut TenantTx, name: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select value from tenant_secrets where name = $1").bind(name).fetch_optional(tx.conn()).await
}

/// Keeps a SAML request waiting for its answer, named by the hash of the
/// browser's cookie, for `ttl`.
pub async fn save_pending_saml(
    tx: &mut TenantTx,
    token_hash: &[u8],
    kind: &str,
    data: &serde_json::Value,
    ttl: Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into login_flows (tenant_id, token_hash, kind, data, expires_at) values ($1, $2, $3, $4, now() + $5::interval)",
    )
    .bind(tx.tenant_id)
    .bind(token_hash)
    .bind(kind)
    .bind(data)
    .bind(format!("{} seconds", ttl.num_seconds()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The SAML request waiting under `token_hash`, consumed: a pending request is
/// good for one response.
pub async fn take_pending_saml(
    tx: &mut TenantTx,
    token_hash: &[u8],
    kind: &str,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar(
        "delete from login_flows where token_hash = $1 and kind = $2 and expires_at > now() returning data",
    )
    .bind(token_hash)
    .bind(kind)
    .fetch_optional(tx.conn())
    .await
}

/// Records an accepted assertion until it expires; `false` when it was seen
/// before (a replay).
pub async fn record_assertion(tx: &mut TenantTx, assertion_id: &str, expires_at: DateTime<Utc>) -> sqlx::Result<bool> {
    let fresh = sqlx::query(
        "insert into saml_replay (tenant_id, assertion_id, expires_at) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(tx.tenant_id)
    .bind(assertion_id)
    .bind(expires_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(fresh > 0)
}

/// Whether the authorization rules give `subject` (`staff:<email>`) any role.
pub async fn has_staff_role(tx: &mut TenantTx, subject: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists(select from authz_rules where ptype = 'g' and v0 = $1)")
        .bind(subject)
        .fetch_one(tx.conn())
        .await
}

/// Whether a staff member who has just proved who they are may have a staff
/// session: the one check of every staff sign-in (provider, SPID/CIE, local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Nobody of that name is staff of this ente.
    Unknown,
    /// Invited, and not signing in through their invitation link.
    Invited,
    Deactivated,
}

impl Admission {
    /// The message key a refused sign-in shows.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            Admission::Admitted => None,
            Admission::Unknown => Some("auth.staff_unknown"),
            Admission::Invited => Some("auth.staff_invitation_pending"),
            Admission::Deactivated => Some("auth.staff_deactivated"),
        }
    }
}

/// Where an invitation link sends its holder after signing in: the token rides
/// in the sign-in's `next`, through every method's round trip.
pub const WELCOME_PATH: &str = "/backoffice/benvenuto";

/// The invitation token a sign-in's `next` carries, if any.
pub fn invitation_in(next: &str) -> Option<&str> {
    next.strip_prefix(WELCOME_PATH)?.strip_prefix("?t=").filter(|t| !t.is_empty() && !t.contains('&'))
}

/// Admits `email` (lower case) or says why not. An invited member signing in
/// through their link (`next`) uses it up and becomes active.
pub async fn admit(tx: &mut TenantTx, email: &str, next: &str) -> sqlx::Result<Admission> {
    let status: Option<String> = sqlx::query_scalar("select status from staff_members where email = $1")
        .bind(email)
        .fetch_optional(tx.conn())
        .await?;
    Ok(match status.as_deref() {
        Some("active") => Admission::Admitted,
        Some("deactivated") => Admission::Deactivated,
        Some(_) => match invitation_in(next) {
            Some(token) if accept_invitation(tx, email, token).await? => Admission::Admitted,
            _ => Admission::Invited,
        },
        // Named only by the policy (`g, staff:<email>, role`).
        None if has_staff_role(tx, &format!("staff:{email}")).await? => Admission::Admitted,
        None => Admission::Unknown,
    })
}

/// Uses up `email`'s unexpired invitation `token` and makes them active.
pub async fn accept_invitation(tx: &mut TenantTx, email: &str, token: &str) -> sqlx::Result<bool> {
    let used = sqlx::query(
        "update staff_enrolments set used_at = now()
         where token_hash = $1 and email = $2 and used_at is null and expires_at > now()",
    )
    .bind(crate::auth::session::token_hash(token))
    .bind(email)
    .execute(tx.conn())
    .await?
    .rows_affected()
        > 0;
    if used {
        crate::organisation::staff::accepted(tx, email).await?;
    }
    Ok(used)
}

/// What the ente's provider asserted about a staff member (id_token verified).
pub struct AssertedStaff<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// Verified by the provider (`email_verified`), lower-case.
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
}

/// The user of the staff member the provider asserted: bound by issuer and
/// subject (`staff_identities`), never found by an e-mail someone typed.
///
/// At the first sign-in the binding is made: whoever holds the e-mail without
/// having proven it gives it up (an unfinished registration is removed, anyone
/// else's unverified copy is cleared); a staff user of the time before bindings
/// (staff, e-mail verified, unbound) is adopted; otherwise a new user is made,
/// with the provider's name and, if nobody else has proven it, the e-mail.
/// Every sign-in refreshes the name and the asserted e-mail the roles follow.
pub async fn staff_user(tx: &mut TenantTx, staff: &AssertedStaff<'_>) -> sqlx::Result<Uuid> {
    // Two first sign-ins of one person at once make one binding.
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("staff:{}:{}|{}", tx.tenant_id, staff.issuer, staff.subject))
        .execute(tx.conn())
        .await?;
    let bound: Option<Uuid> =
        sqlx::query_scalar("select user_id from staff_identities where issuer = $1 and subject = $2")
            .bind(staff.issuer)
            .bind(staff.subject)
            .fetch_optional(tx.conn())
            .await?;
    let user_id = match bound {
        Some(user_id) => {
            sqlx::query(
                "update staff_identities set email = $3, last_seen_at = now() where issuer = $1 and subject = $2",
            )
            .bind(staff.issuer)
            .bind(staff.subject)
            .bind(staff.email)
            .execute(tx.conn())
            .await?;
            user_id
        }
        None => {
            users::release_unverified_email(tx, staff.email).await?;
            let legacy: Option<Uuid> = sqlx::query_scalar(
                "select id from users u
                 where lower(email) = lower($1) and is_staff and email_verified_at is not null
                   and not exists (select from staff_identities s where s.user_id = u.id)",
            )
            .bind(staff.email)
            .fetch_optional(tx.conn())
            .await?;
            let user_id = match legacy {
                Some(id) => id,
                None => users::create_staff_user(tx, staff.given_name, staff.family_name, staff.email).await?,
            };
            sqlx::query(
                "insert into staff_identities (tenant_id, issuer, subject, user_id, email) values ($1, $2, $3, $4, $5)",
            )
            .bind(tx.tenant_id)
            .bind(staff.issuer)
            .bind(staff.subject)
            .bind(user_id)
            .bind(staff.email)
            .execute(tx.conn())
            .await?;
            user_id
        }
    };
    // The provider is the authority on a staff member's name.
    sqlx::query(
        "update users set is_staff = true,
                given_name = coalesce(nullif($2, ''), given_name),
                family_name = coalesce(nullif($3, ''), family_name),
                updated_at = now()
         where id = $1",
    )
    .bind(user_id)
    .bind(staff.given_name)
    .bind(staff.family_name)
    .execute(tx.conn())
    .await?;
    Ok(user_id)
}
