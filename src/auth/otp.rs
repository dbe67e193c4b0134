//! One-time codes (6 digits) sent by SMS or e-mail: they expire, work once, and
//! allow a limited number of attempts. Only a salted hash is stored.
//!
//! Every code that leaves goes through `send_codes`, which first decides whether
//! it may be sent at all: the destination country (SMS), a cooldown before the
//! same code is sent again, limits per account, per destination and per client
//! address, and the ente's daily SMS budget. These are counted in the database
//! (`otp_sends`, `sms_daily_usage`), so they hold across nodes. A refusal writes
//! nothing and names the field to show it next to.

use std::net::IpAddr;

use axum::http::StatusCode;
use chrono::Duration;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{db::TenantTx, notify, state::AppState, tenancy::Tenant};

pub const CODE_TTL: Duration = Duration::minutes(5);
pub const MAX_ATTEMPTS: i32 = 5;

/// A code still usable, sent less than this long ago, is not sent again.
pub const RESEND_COOLDOWN_SECS: i64 = 60;
/// Codes (SMS and e-mail) one account may be sent per hour.
pub const PER_ACCOUNT_PER_HOUR: i64 = 10;
/// Codes one mobile number or e-mail address may receive per hour, whatever
/// the account that asked.
pub const PER_DESTINATION_PER_HOUR: i64 = 8;
/// Codes that requests from one client address (an IPv6 /64) may cause per hour.
pub const PER_ADDRESS_PER_HOUR: i64 = 20;
/// Share of the daily SMS budget at which the ente is warned (80 %).
const BUDGET_WARNING: (i64, i64) = (4, 5);

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    /// The form field a refusal is shown next to.
    pub fn field(self) -> &'static str {
        match self {
            Self::Sms => "mobile",
            Self::Email => "email",
        }
    }
}

/// One code to send.
pub struct CodeMessage<'a> {
    pub purpose: Purpose,
    pub channel: Channel,
    /// E.164 mobile number or e-mail address.
    pub to: &'a str,
    /// SMS: the key of its text (`sms.login_code`); e-mail: the prefix of the
    /// keys `<template>_subject` and `<template>_body` (`mail.verify`). `{code}`
    /// and `{name}` (the ente) are filled in.
    pub template: &'static str,
}

/// Why no code was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The number is outside the ente's `sms_country_codes`.
    Country,
    /// A code for the same purpose, still usable, went out less than a minute ago.
    Cooldown,
    Account,
    Destination,
    Address,
    /// The ente's `sms_daily_budget` is spent for today.
    Budget,
}

impl Refusal {
    /// The Italian message (a key of locales/it.toml).
    pub fn message(self) -> &'static str {
        match self {
            Self::Country => "auth.send_country",
            Self::Cooldown => "auth.send_cooldown",
            Self::Account => "auth.send_limit_account",
            Self::Destination => "auth.send_limit_destination",
            Self::Address => "auth.send_limit_address",
            Self::Budget => "auth.send_budget",
        }
    }

    /// A number we do not serve is a wrong answer; everything else is "not now".
    pub fn status(self) -> StatusCode {
        match self {
            Self::Country => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub refusal: Refusal,
    /// The channel of the message refused (its field: `channel.field()`).
    pub channel: Channel,
}

impl Refused {
    pub fn field(self) -> &'static str {
        self.channel.field()
    }
}

/// Sends `messages` (codes for `user_id`) if every limit allows all of them:
/// issues each code, queues it in the outbox and records the send. Returns the
/// code ids in the order of `messages`, or why nothing at all was sent (nothing
/// is written then). `client` is the request's client address.
pub async fn send_codes(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    client: Option<IpAddr>,
    user_id: Uuid,
    messages: &[CodeMessage<'_>],
) -> sqlx::Result<Result<Vec<Uuid>, Refused>> {
    if let Some(refused) = refusal(tx, tenant, client, user_id, messages).await? {
        tracing::info!(
            tenant = %tenant.slug,
            reason = ?refused.refusal,
            channel = refused.channel.as_str(),
            "code not sent: over a limit"
        );
        return Ok(Err(refused));
    }
    let client_net = client.map(|ip| super::ratelimit::address_net(ip).to_string());
    let mut ids = Vec::with_capacity(messages.len());
    for message in messages {
        let (id, code) = issue(tx, user_id, message.purpose, message.to).await?;
        // In the ente's own language, the one its SMS and e-mails are written in.
        let fill = |key: &str, name: &str| {
            let text = crate::i18n::Text::new(key.to_string()).with("code", &code).with("name", name);
            state.renderer.catalogues().text(tenant.default_lang(), &text)
        };
        match message.channel {
            Channel::Sms => {
                let text = fill(message.template, &tenant.profile.short_name);
                notify::queue_sms(tx, message.to, &text).await?;
            }
            Channel::Email => {
                let subject = fill(&format!("{}_subject", message.template), &tenant.name);
                let body = fill(&format!("{}_body", message.template), &tenant.name);
                notify::queue_mail(tx, message.to, &subject, &body).await?;
            }
        }
        sqlx::query(
            "insert into otp_sends (tenant_id, id, user_id, purpose, channel, destination, client_net)
             values ($1, $2, $3, $4, $5, $6, $7::inet)",
        )
        .bind(tx.tenant_id)
        .bind(Uuid::new_v4())
        .bind(user_id)
        .bind(message.purpose.as_str())
        .bind(message.channel.as_str())
        .bind(message.to)
        .bind(&client_net)
        .execute(tx.conn())
        .await?;
        ids.push(id);
    }
    Ok(Ok(ids))
}

/// The first limit `messages` would break, if any. Only the last check (the
/// SMS budget) writes, and only when it lets the messages through.
async fn refusal(
    tx: &mut TenantTx,
    tenant: &Tenant,
    client: Option<IpAddr>,
    user_id: Uuid,
    messages: &[CodeMessage<'_>],
) -> sqlx::Result<Option<Refused>> {
    let refused = |refusal, channel| Ok(Some(Refused { refusal, channel }));
    // Account and address limits are shown next to the mobile number if one is sent.
    let main = if messages.iter().any(|m| m.channel == Channel::Sms) { Channel::Sms } else { Channel::Email };
    let count = messages.len() as i64;
    for m in messages.iter().filter(|m| m.channel == Channel::Sms) {
        if !tenant.auth.sms_allowed_to(m.to) {
            return refused(Refusal::Country, m.channel);
        }
    }
    for m in messages {
        let recent: bool = sqlx::query_scalar(
            "select exists (select from otp_codes
                            where user_id = $1 and purpose = $2 and consumed_at is null and expires_at > now()
                              and attempts < max_attempts and created_at > now() - make_interval(secs => $3))",
        )
        .bind(user_id)
        .bind(m.purpose.as_str())
        .bind(RESEND_COOLDOWN_SECS as f64)
        .fetch_one(tx.conn())
        .await?;
        if recent {
            return refused(Refusal::Cooldown, m.channel);
        }
    }
    let of_account: i64 = sqlx::query_scalar(
        "select count(*) from otp_sends where user_id = $1 and created_at > now() - interval '1 hour'",
    )
    .bind(user_id)
    .fetch_one(tx.conn())
    .await?;
    if of_account + count > PER_ACCOUNT_PER_HOUR {
        return refused(Refusal::Account, main);
    }
    for m in messages {
        let to_destination: i64 = sqlx::query_scalar(
            "select count(*) from otp_sends where destination = $1 and created_at > now() - interval '1 hour'",
        )
        .bind(m.to)
        .fetch_one(tx.conn())
        .await?;
        if to_destination + 1 > PER_DESTINATION_PER_HOUR {
            return refused(Refusal::Destination, m.channel);
        }
    }
    if let Some(ip) = client {
        let from_address: i64 = sqlx::query_scalar(
            "select count(*) from otp_sends where client_net = $1::inet and created_at > now() - interval '1 hour'",
        )
        .bind(super::ratelimit::address_net(ip).to_string())
        .fetch_one(tx.conn())
        .await?;
        if from_address + count > PER_ADDRESS_PER_HOUR {
            return refused(Refusal::Address, main);
        }
    }
    let sms = messages.iter().filter(|m| m.channel == Channel::Sms).count() as i32;
    if sms > 0 {
        let budget = i32::try_from(tenant.auth.sms_daily_budget).unwrap_or(i32::MAX);
        // Counted only if it fits: the row lock makes concurrent sends queue up.
        let spent: Option<(chrono::NaiveDate, i32, bool)> = sqlx::query_as(
            "insert into sms_daily_usage as u (tenant_id, day, sent)
             select $1, (now() at time zone 'Europe/Rome')::date, $2 where $2 <= $3
             on conflict (tenant_id, day) do update set sent = u.sent + excluded.sent
                where u.sent + excluded.sent <= $3
             returning day, sent, warned_at is not null",
        )
        .bind(tx.tenant_id)
        .bind(sms)
        .bind(budget)
        .fetch_optional(tx.conn())
        .await?;
        let Some((day, sent, warned)) = spent else {
            return refused(Refusal::Budget, Channel::Sms);
        };
        let (num, den) = BUDGET_WARNING;
        if !warned && i64::from(sent) * den >= i64::from(budget) * num {
            let first =
                sqlx::query("update sms_daily_usage set warned_at = now() where day = $1 and warned_at is null")
                    .bind(day)
                    .execute(tx.conn())
                    .await?
                    .rows_affected();
            if first == 1 {
                sms_budget_warning(tenant, day, sent, budget);
            }
        }
    }
    Ok(None)
}

/// The ente has used 80 % of today's SMS budget: said once a day per ente.
fn sms_budget_warning(tenant: &Tenant, day: chrono::NaiveDate, sent: i32, budget: i32) {
    tracing::warn!(
        tenant = %tenant.slug,
        %day,
        sent,
        budget,
        "SMS: 80% of the ente's daily budget (auth.sms_daily_budget) is used; over it no code goes by SMS"
    );
    // TODO(admin console): also tell the ente's administrators (a notice in the
    // console and an e-mail) once the admin console exists; this is the hook.
}

/// Forgets the sends older than a day (the limits look back one hour): for the
/// scheduled prune job. Returns how many rows went.
pub async fn prune_send_log(tx: &mut TenantTx) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from otp_sends where created_at < now() - interval '1 day'")
        .execute(tx.conn())
        .await?
        .rows_affected())
}

/// The id of the code of `purpose` that `user_id` may still use, if any (the
/// newest): what a flow points at when a new code was refused.
pub async fn live_code(tx: &mut TenantTx, user_id: Uuid, purpose: Purpose) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "select id from otp_codes
         where user_id = $1 and purpose = $2 and consumed_at is null and expires_at > now() and attempts < max_attempts
         order by created_at desc limit 1",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .fetch_optional(tx.conn())
    .await
}

/// A new code for `user_id`; earlier unused codes for the same purpose stop
/// working. Only `send_codes` issues codes, after its limits.
async fn issue(tx: &mut TenantTx, user_id: Uuid, purpose: Purpose, destination: &str) -> sqlx::Result<(Uuid, String)> {
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
) -> sqlx::Result<crate::input::FormErrors> {
    let mut errors = crate::input::FormErrors::default();
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
