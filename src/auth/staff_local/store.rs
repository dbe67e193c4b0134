//! The SQL of local staff accounts: enrolment links, accounts, recovery codes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{auth::session::token_hash as hash, db::TenantTx};

/// How long an enrolment link stays good.
pub const ENROLMENT_TTL_DAYS: i64 = 7;
/// Wrong sign-ins in a row before the account waits.
pub const MAX_FAILED_ATTEMPTS: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;

#[derive(sqlx::FromRow)]
pub struct Enrolment {
    pub email: String,
    pub pending_secret: Option<Vec<u8>>,
}

/// Makes a link for `email` (a staff member of the transaction's ente); the
/// token to put in it. `None` when nobody with that e-mail is staff here.
pub async fn create_enrolment(tx: &mut TenantTx, email: &str) -> sqlx::Result<Option<String>> {
    let listed: bool = sqlx::query_scalar("select exists (select from staff_members where email = $1)")
        .bind(email)
        .fetch_one(tx.conn())
        .await?;
    if !listed {
        return Ok(None);
    }
    let (token, token_hash) = crate::auth::session::new_token();
    sqlx::query(
        "insert into staff_enrolments (tenant_id, token_hash, email, expires_at)
         values ($1, $2, $3, now() + make_interval(days => $4::int))",
    )
    .bind(tx.tenant_id)
    .bind(token_hash)
    .bind(email)
    .bind(ENROLMENT_TTL_DAYS as i32)
    .execute(tx.conn())
    .await?;
    Ok(Some(token))
}

/// The unused, unexpired enrolment of `token`, locked; with the secret its QR
/// code shows (made now if the link was never opened).
pub async fn open_enrolment(tx: &mut TenantTx, token: &str, new_secret: &[u8]) -> sqlx::Result<Option<Enrolment>> {
    sqlx::query_as(
        "update staff_enrolments set pending_secret = coalesce(pending_secret, $2)
         where token_hash = $1 and used_at is null and expires_at > now()
         returning email, pending_secret",
    )
    .bind(hash(token))
    .bind(new_secret)
    .fetch_optional(tx.conn())
    .await
}

pub struct NewAccount<'a> {
    pub email: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: &'a str,
    pub totp_secret: &'a [u8],
    /// The step of the code that confirmed the enrolment (not good again).
    pub confirmed_step: i64,
    pub recovery_codes: &'a [String],
}

/// Creates (or, on a new enrolment, replaces) the account, its user and its
/// recovery codes, and uses up the enrolment link.
pub async fn finish_enrolment(tx: &mut TenantTx, token: &str, account: &NewAccount<'_>) -> sqlx::Result<Uuid> {
    let existing: Option<Uuid> = sqlx::query_scalar("select user_id from staff_accounts where email = $1")
        .bind(account.email)
        .fetch_optional(tx.conn())
        .await?;
    let user_id = match existing {
        Some(id) => id,
        None => crate::users::create_staff_user(tx, account.given_name, account.family_name, account.email).await?,
    };
    sqlx::query("update users set given_name = $2, family_name = $3 where id = $1")
        .bind(user_id)
        .bind(account.given_name)
        .bind(account.family_name)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "insert into staff_accounts (tenant_id, email, user_id, password_hash, totp_secret, last_totp_step)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, email) do update set password_hash = excluded.password_hash,
             totp_secret = excluded.totp_secret, last_totp_step = excluded.last_totp_step,
             failed_attempts = 0, locked_until = null, enrolled_at = now()",
    )
    .bind(tx.tenant_id)
    .bind(account.email)
    .bind(user_id)
    .bind(account.password_hash)
    .bind(account.totp_secret)
    .bind(account.confirmed_step)
    .execute(tx.conn())
    .await?;
    sqlx::query("delete from staff_recovery_codes where email = $1").bind(account.email).execute(tx.conn()).await?;
    for code in account.recovery_codes {
        sqlx::query("insert into staff_recovery_codes (tenant_id, email, code_hash) values ($1, $2, $3)")
            .bind(tx.tenant_id)
            .bind(account.email)
            .bind(hash(code))
            .execute(tx.conn())
            .await?;
    }
    sqlx::query("update staff_enrolments set used_at = now() where token_hash = $1")
        .bind(hash(token))
        .execute(tx.conn())
        .await?;
    // The enrolment link was their invitation.
    crate::organisation::staff::accepted(tx, account.email).await?;
    Ok(user_id)
}

#[derive(sqlx::FromRow)]
pub struct Account {
    pub email: String,
    pub user_id: Uuid,
    pub password_hash: String,
    pub totp_secret: Vec<u8>,
    pub last_totp_step: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

/// The account of `email`, locked for the sign-in that reads it.
pub async fn account(tx: &mut TenantTx, email: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query_as(
        "select email, user_id, password_hash, totp_secret, last_totp_step, locked_until
         from staff_accounts where email = $1 for update",
    )
    .bind(email)
    .fetch_optional(tx.conn())
    .await
}

/// A good sign-in: the code's step is used up, the failures forgotten.
pub async fn signed_in(tx: &mut TenantTx, email: &str, step: Option<i64>) -> sqlx::Result<()> {
    sqlx::query(
        "update staff_accounts set last_totp_step = coalesce($2, last_totp_step), failed_attempts = 0,
             locked_until = null, last_sign_in_at = now()
         where email = $1",
    )
    .bind(email)
    .bind(step)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A wrong password or code: counted; the fifth in a row locks the account.
pub async fn failed(tx: &mut TenantTx, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update staff_accounts set
             locked_until = case when failed_attempts + 1 >= $2 then now() + make_interval(mins => $3::int) end,
             failed_attempts = case when failed_attempts + 1 >= $2 then 0 else failed_attempts + 1 end
         where email = $1",
    )
    .bind(email)
    .bind(MAX_FAILED_ATTEMPTS)
    .bind(LOCK_MINUTES as i32)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Uses up a recovery code of `email`; whether it was one (and unused).
pub async fn use_recovery_code(tx: &mut TenantTx, email: &str, code: &str) -> sqlx::Result<bool> {
    let used = sqlx::query(
        "update staff_recovery_codes set used_at = now() where email = $1 and code_hash = $2 and used_at is null",
    )
    .bind(email)
    .bind(hash(&code.trim().to_lowercase()))
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(used == 1)
}
