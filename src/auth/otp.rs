//! One-time codes (6 digits) sent by SMS or e-mail: they expire, work once, and
//! allow a limited number of attempts. Only a salted hash is stored.

use chrono::Duration;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::db::TenantTx;

pub const CODE_TTL: Duration = Duration::minutes(5);
pub const MAX_ATTEMPTS: i32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Login,
    VerifyMobile,
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::VerifyMobile => "verify_mobile",
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }
}

fn code_hash(id: Uuid, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{id}:{code}").as_bytes()))
}

/// A new code for `user_id`; earlier unused codes for the same purpose stop working.
pub async fn issue(
    tx: &mut TenantTx,
    user_id: Uuid,
    purpose: Purpose,
    destination: &str,
) -> sqlx::Result<(Uuid, String)> {
    sqlx::query("update otp_codes set consumed_at = now() where user_id = $1 and purpose = $2 and consumed_at is null")
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(tx.conn())
        .await?;
    let id = Uuid::new_v4();
    let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
    sqlx::query(
        "insert into otp_codes (tenant_id, id, user_id, purpose, destination, code_hash, max_attempts, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, now() + $8::interval)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(destination)
    .bind(code_hash(id, &code))
    .bind(MAX_ATTEMPTS)
    .bind(format!("{} seconds", CODE_TTL.num_seconds()))
    .execute(tx.conn())
    .await?;
    Ok((id, code))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Wrong {
        attempts_left: i32,
    },
    /// Expired, already used, or out of attempts: a new code is needed.
    Spent,
}

/// Checks `code` for the code `id` of `user_id`; every check counts as an attempt.
pub async fn verify(tx: &mut TenantTx, id: Uuid, user_id: Uuid, purpose: Purpose, code: &str) -> sqlx::Result<Outcome> {
    let row: Option<(String, i32, i32, bool)> = sqlx::query_as(
        "update otp_codes set attempts = attempts + 1
         where id = $1 and user_id = $2 and purpose = $3
         returning code_hash, attempts, max_attempts, (consumed_at is null and expires_at > now())",
    )
    .bind(id)
    .bind(user_id)
    .bind(purpose.as_str())
    .fetch_optional(tx.conn())
    .await?;
    let Some((stored, attempts, max_attempts, live)) = row else { return Ok(Outcome::Spent) };
    if !live || attempts > max_attempts {
        return Ok(Outcome::Spent);
    }
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if bool::from(code_hash(id, &code).as_bytes().ct_eq(stored.as_bytes())) {
        sqlx::query("update otp_codes set consumed_at = now() where id = $1").bind(id).execute(tx.conn()).await?;
        return Ok(Outcome::Accepted);
    }
    if attempts >= max_attempts {
        return Ok(Outcome::Spent);
    }
    Ok(Outcome::Wrong { attempts_left: max_attempts - attempts })
}

/// Confirms the contacts of a flow whose data holds `email` and `mobile` and the
/// ids of the codes sent to them (`email_code`, `sms_code`; cleared once proven).
/// A proven contact becomes the user's, verified. Returns the errors to show next
/// to the fields still unproven.
pub async fn confirm_contacts(
    tx: &mut TenantTx,
    user_id: Uuid,
    data: &mut serde_json::Value,
    email_code: &str,
    sms_code: &str,
    spent_message: &'static str,
) -> sqlx::Result<crate::web::forms::FormErrors> {
    let mut errors = crate::web::forms::FormErrors::default();
    for (field, purpose, column, code) in [
        ("email_code", Purpose::VerifyEmail, "email", email_code),
        ("sms_code", Purpose::VerifyMobile, "mobile", sms_code),
    ] {
        let Some(id) = data[field].as_str().and_then(|s| s.parse::<Uuid>().ok()) else { continue };
        match verify(tx, id, user_id, purpose, code).await? {
            Outcome::Accepted => {
                sqlx::query(&format!(
                    "update users set {column} = $2, {column}_verified_at = now(), updated_at = now() where id = $1"
                ))
                .bind(user_id)
                .bind(data[column].as_str())
                .execute(tx.conn())
                .await?;
                data[field] = serde_json::Value::Null;
            }
            Outcome::Wrong { .. } => errors.add(field, "auth.code_wrong"),
            Outcome::Spent => errors.add(field, spent_message),
        }
    }
    Ok(errors)
}
