//! The SQL of platform operators: accounts, enrolment links, sessions. Not
//! tenant data (no `TenantTx`): these tables hold no ente's rows, and nothing
//! here can read one.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::auth::session::{new_token, token_hash};

/// How long an enrolment link stays good.
pub const ENROLMENT_TTL_DAYS: i32 = 7;
/// Wrong sign-ins in a row before the account waits `LOCK_MINUTES`.
pub const MAX_FAILED_ATTEMPTS: i32 = 5;
pub const LOCK_MINUTES: i32 = 15;
/// A console session ends after this long, however active…
pub const SESSION_TTL: Duration = Duration::hours(8);
/// …or after this long without requests.
pub const IDLE_TTL: Duration = Duration::minutes(30);

/// The roles of the platform's own people.
pub const ROLES: [&str; 2] = ["platform-admin", "platform-support"];

/// Creates the operator if new (with `role`) and makes a fresh enrolment link
/// for them, voiding earlier unused ones; the token to put in it.
pub async fn create_enrolment(db: &PgPool, email: &str, role: &str) -> sqlx::Result<String> {
    let mut tx = db.begin().await?;
    sqlx::query("insert into platform_operators (email, role) values ($1, $2) on conflict (email) do nothing")
        .bind(email)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update platform_enrolments set expires_at = now() where email = $1 and used_at is null and expires_at > now()",
    )
    .bind(email)
    .execute(&mut *tx)
    .await?;
    let (token, hash) = new_token();
    sqlx::query(
        "insert into platform_enrolments (token_hash, email, expires_at)
         values ($1, $2, now() + make_interval(days => $3))",
    )
    .bind(hash)
    .bind(email)
    .bind(ENROLMENT_TTL_DAYS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

#[derive(sqlx::FromRow)]
pub struct Enrolment {
    pub email: String,
    pub pending_secret: Option<Vec<u8>>,
}

/// The unused, unexpired enrolment of `token`, with the secret its QR code
/// shows (made now if the link was never opened).
pub async fn open_enrolment(db: &PgPool, token: &str, new_secret: &[u8]) -> sqlx::Result<Option<Enrolment>> {
    sqlx::query_as(
        "update platform_enrolments set pending_secret = coalesce(pending_secret, $2)
         where token_hash = $1 and used_at is null and expires_at > now()
         returning email, pending_secret",
    )
    .bind(token_hash(token))
    .bind(new_secret)
    .fetch_optional(db)
    .await
}

pub struct NewAccount<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub password_hash: &'a str,
    pub totp_secret: &'a [u8],
    /// The step of the code that confirmed the enrolment (not good again).
    pub confirmed_step: i64,
}

/// Sets the operator's name, password and authenticator and uses the link up;
/// false when the link was used meanwhile.
pub async fn finish_enrolment(db: &PgPool, token: &str, email: &str, account: &NewAccount<'_>) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let used = sqlx::query(
        "update platform_enrolments set used_at = now()
         where token_hash = $1 and email = $2 and used_at is null and expires_at > now()",
    )
    .bind(token_hash(token))
    .bind(email)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !used {
        return Ok(false);
    }
    sqlx::query(
        "update platform_operators set given_name = $2, family_name = $3, password_hash = $4, totp_secret = $5,
             last_totp_step = $6, failed_attempts = 0, locked_until = null, enrolled_at = now()
         where email = $1",
    )
    .bind(email)
    .bind(account.given_name)
    .bind(account.family_name)
    .bind(account.password_hash)
    .bind(account.totp_secret)
    .bind(account.confirmed_step)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(sqlx::FromRow)]
pub struct Account {
    pub email: String,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub last_totp_step: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

pub async fn account(db: &PgPool, email: &str) -> sqlx::Result<Option<Account>> {
    sqlx::query_as(
        "select email, password_hash, totp_secret, last_totp_step, locked_until from platform_operators where email = $1",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// Records a wrong sign-in; the fifth in a row locks the account for a while.
pub async fn failed(db: &PgPool, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update platform_operators set failed_attempts = failed_attempts + 1,
             locked_until = case when failed_attempts + 1 >= $2 then now() + make_interval(mins => $3) end
         where email = $1",
    )
    .bind(email)
    .bind(MAX_FAILED_ATTEMPTS)
    .bind(LOCK_MINUTES)
    .execute(db)
    .await?;
    Ok(())
}

/// Opens a session for `email` after a good sign-in (the code's step is not
/// good again), ending the one the browser had; the cookie's token.
pub async fn start_session(db: &PgPool, email: &str, step: i64, previous: Option<&[u8]>) -> sqlx::Result<String> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "update platform_operators set last_totp_step = $2, failed_attempts = 0, locked_until = null,
             last_sign_in_at = now() where email = $1",
    )
    .bind(email)
    .bind(step)
    .execute(&mut *tx)
    .await?;
    if let Some(previous) = previous {
        sqlx::query("delete from platform_sessions where token_hash = $1").bind(previous).execute(&mut *tx).await?;
    }
    let (token, hash) = new_token();
    sqlx::query(
        "insert into platform_sessions (token_hash, email, expires_at) values ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(hash)
    .bind(email)
    .bind(SESSION_TTL.num_seconds() as f64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The signed-in platform operator.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Operator {
    pub email: String,
    pub role: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(skip)]
    pub token_hash: Vec<u8>,
}

/// The operator of a live session (touched at most once a minute).
pub async fn session(db: &PgPool, hash: &[u8]) -> sqlx::Result<Option<Operator>> {
    let operator: Option<Operator> = sqlx::query_as(
        "select o.email, o.role, o.given_name, o.family_name, s.token_hash from platform_sessions s
         join platform_operators o on o.email = s.email
         where s.token_hash = $1 and s.expires_at > now() and s.last_seen_at > now() - make_interval(secs => $2)",
    )
    .bind(hash)
    .bind(IDLE_TTL.num_seconds() as f64)
    .fetch_optional(db)
    .await?;
    if operator.is_some() {
        sqlx::query("update platform_sessions set last_seen_at = now() where token_hash = $1 and last_seen_at < now() - interval '1 minute'")
            .bind(hash)
            .execute(db)
            .await?;
    }
    Ok(operator)
}

pub async fn end_session(db: &PgPool, hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("delete from platform_sessions where token_hash = $1").bind(hash).execute(db).await?;
    Ok(())
}
