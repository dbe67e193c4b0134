//! The people of one ente. A verified identity (fiscal code proven by SPID, CIE or
//! a CRS card) is platform-wide; each ente links it to a user of its own, so
//! signing in on one ente reveals nothing of another.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::TenantTx;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub identity_id: Option<Uuid>,
    pub fiscal_code: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub mobile: Option<String>,
    pub mobile_verified_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub is_staff: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, identity_id, fiscal_code, given_name, family_name, email, email_verified_at, mobile, \
                       mobile_verified_at, password_hash, password_changed_at, is_staff, created_at";

impl User {
    /// "Maria Rossi (RSSMRA85T10A562S)": how registers and receipts name a person.
    pub fn name_and_fiscal_code(&self) -> String {
        match &self.fiscal_code {
            Some(cf) => format!("{} {} ({cf})", self.given_name, self.family_name),
            None => format!("{} {}", self.given_name, self.family_name),
        }
    }

    /// Registered with a password and both contacts verified.
    pub fn can_sign_in_with_password(&self) -> bool {
        self.password_hash.is_some() && self.email_verified_at.is_some() && self.mobile_verified_at.is_some()
    }
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("select {COLUMNS} from users where id = $1")).bind(id).fetch_optional(tx.conn()).await
}

pub async fn by_email(tx: &mut TenantTx, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(&format!("select {COLUMNS} from users where lower(email) = lower($1)"))
        .bind(email)
        .fetch_optional(tx.conn())
        .await
}

/// A new password for the user (hashed by the caller).
pub async fn set_password(tx: &mut TenantTx, id: Uuid, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("update users set password_hash = $2, password_changed_at = now(), updated_at = now() where id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Deletes the user; their sessions, codes, flows and delegations go with them
/// (foreign keys cascade).
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("delete from users where id = $1").bind(id).execute(tx.conn()).await?;
    Ok(())
}

pub struct NewAccount<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub fiscal_code: &'a str,
    pub email: &'a str,
    pub mobile: &'a str,
    pub password_hash: &'a str,
}

/// Creates a password account, unverified. `None` when the e-mail is taken.
pub async fn create_account(tx: &mut TenantTx, new: NewAccount<'_>) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::new_v4();
    let inserted = sqlx::query(
        "insert into users (tenant_id, id, fiscal_code, given_name, family_name, email, mobile, password_hash, password_changed_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, now())
         on conflict (tenant_id, lower(email)) where email is not null do nothing",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(new.fiscal_code)
    .bind(new.given_name)
    .bind(new.family_name)
    .bind(new.email)
    .bind(new.mobile)
    .bind(new.password_hash)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok((inserted == 1).then_some(id))
}

/// A password registration that never completed (a contact never proven): it
/// cannot sign in, has done nothing, and holds its e-mail only provisionally.
pub const UNFINISHED_REGISTRATION: &str = "password_hash is not null and identity_id is null and not is_staff \
     and (email_verified_at is null or mobile_verified_at is null) \
     and not exists (select from cases c where c.user_id = users.id)";

/// Removes the registrations that never completed and are more than a day old,
/// freeing their e-mail addresses; returns how many went. Run per ente by the
/// scheduled prune job (the registration flow itself lasts 30 minutes).
pub async fn expire_unfinished_registrations(tx: &mut TenantTx) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "delete from users where {UNFINISHED_REGISTRATION} and created_at < now() - interval '1 day'"
    ))
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Someone proved they own `email` (their ente's provider asserted it verified):
/// whoever holds it without having proven it gives it up — an unfinished
/// registration is removed, anyone else's unverified copy is cleared. Returns
/// how many accounts gave it up.
pub async fn release_unverified_email(tx: &mut TenantTx, email: &str) -> sqlx::Result<u64> {
    let removed = sqlx::query(&format!(
        "delete from users where lower(email) = lower($1) and email_verified_at is null and {UNFINISHED_REGISTRATION}"
    ))
    .bind(email)
    .execute(tx.conn())
    .await?
    .rows_affected();
    let cleared = sqlx::query(
        "update users set email = null, updated_at = now() where lower(email) = lower($1) and email_verified_at is null",
    )
    .bind(email)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(removed + cleared)
}

/// Before a new registration with `email`: an unfinished registration holding
/// it is removed when it can no longer complete (its verification flow is over)
/// or when it is this browser's own (`own`, registering again). A registration
/// still being verified elsewhere keeps it, so nobody can evict it.
pub async fn release_stale_registration(tx: &mut TenantTx, email: &str, own: Option<Uuid>) -> sqlx::Result<u64> {
    Ok(sqlx::query(&format!(
        "delete from users where lower(email) = lower($1) and {UNFINISHED_REGISTRATION}
           and (id = $2 or not exists (select from login_flows f
                                       where f.kind = 'register' and f.user_id = users.id and f.expires_at > now()))"
    ))
    .bind(email)
    .bind(own)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// What a proving method (SPID, CIE, CRS) tells us about the person.
pub struct ProvenIdentity<'a> {
    pub fiscal_code: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub email: Option<&'a str>,
    pub mobile: Option<&'a str>,
}

/// The ente's user for a proven fiscal code, created on first sign-in.
pub async fn for_identity(tx: &mut TenantTx, proven: ProvenIdentity<'_>) -> sqlx::Result<Uuid> {
    // The runtime role may insert identities but not update them (so it can never
    // move a fiscal code to another identity): no `do update` upsert. The second
    // statement sees a row a concurrent sign-in just committed, which the
    // conflict waited for.
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "insert into identities (tenant_id, id, fiscal_code) values ($1, $2, $3)
         on conflict (tenant_id, fiscal_code) do nothing returning id",
    )
    .bind(tx.tenant_id)
    .bind(Uuid::new_v4())
    .bind(proven.fiscal_code)
    .fetch_optional(tx.conn())
    .await?;
    let identity: Uuid = match inserted {
        Some(id) => id,
        None => {
            sqlx::query_scalar("select id from identities where fiscal_code = $1")
                .bind(proven.fiscal_code)
                .fetch_one(tx.conn())
                .await?
        }
    };
    if let Some(id) = sqlx::query_scalar("select id from users where identity_id = $1")
        .bind(identity)
        .fetch_optional(tx.conn())
        .await?
    {
        return Ok(id);
    }
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into users (tenant_id, id, identity_id, fiscal_code, given_name, family_name, email, mobile)
         values ($1, $2, $3, $4, $5, $6,
                 case when exists (select from users where lower(email) = lower($7)) then null else $7 end, $8)",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(identity)
    .bind(proven.fiscal_code)
    .bind(proven.given_name)
    .bind(proven.family_name)
    .bind(proven.email)
    .bind(proven.mobile)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// A staff member as the ente's recipe lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// Lower case: what `staff:<email>` authorization rules follow.
    pub email: String,
    pub fiscal_code: Option<String>,
}

/// Makes the recipe's rows of `staff_members` hold exactly `wanted`; returns
/// the rows changed. A staff member the console invited or changed is the
/// console's and stays as it is.
pub async fn sync_staff_members(tx: &mut TenantTx, wanted: &[StaffMember]) -> sqlx::Result<u64> {
    let emails: Vec<&str> = wanted.iter().map(|m| m.email.as_str()).collect();
    let mut changes = sqlx::query("delete from staff_members where origin = 'recipe' and email <> all($1)")
        .bind(&emails)
        .execute(tx.conn())
        .await?
        .rows_affected();
    // Free the fiscal codes that move to someone else before taking them.
    for member in wanted {
        changes += sqlx::query(
            "update staff_members set fiscal_code = null
             where origin = 'recipe' and fiscal_code = $1 and email <> $2",
        )
        .bind(&member.fiscal_code)
        .bind(&member.email)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    for member in wanted {
        changes += sqlx::query(
            "insert into staff_members (tenant_id, email, fiscal_code) values ($1, $2, $3)
             on conflict (tenant_id, email) do update set fiscal_code = excluded.fiscal_code
             where staff_members.origin = 'recipe' and staff_members.fiscal_code is distinct from excluded.fiscal_code",
        )
        .bind(tx.tenant_id)
        .bind(&member.email)
        .bind(&member.fiscal_code)
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    Ok(changes)
}

/// The staff subject (`staff:<email>`) of the staff member with this fiscal
/// code in the transaction's ente, if there is one.
pub async fn staff_subject_by_fiscal_code(tx: &mut TenantTx, fiscal_code: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select 'staff:' || email from staff_members where fiscal_code = $1")
        .bind(fiscal_code)
        .fetch_optional(tx.conn())
        .await
}

/// A new staff user with this name and, if nobody (who proved it) holds it
/// already, this e-mail as verified (the ente's provider or the enrolment link
/// stands for it).
pub async fn create_staff_user(
    tx: &mut TenantTx,
    given_name: &str,
    family_name: &str,
    email: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into users (tenant_id, id, given_name, family_name, email, email_verified_at, is_staff)
         select $1, $2, $3, $4, e, case when e is null then null else now() end, true
         from (select case when exists (select from users where lower(email) = lower($5))
                           then null else $5 end as e) as free",
    )
    .bind(tx.tenant_id)
    .bind(id)
    .bind(given_name)
    .bind(family_name)
    .bind(email)
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// Marks a user as staff (the desk lists staff users as assignees).
pub async fn mark_staff(tx: &mut TenantTx, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update users set is_staff = true where id = $1 and not is_staff")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
