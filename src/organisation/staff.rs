//! The ente's staff as the console lists them: everyone the ente's recipe or
//! policy names as staff (`staff_members`, and `staff:<email>` subjects of its
//! rules), with their roles, offices (`uo:<code>`), how they can sign in and
//! when they last did.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::TenantTx;

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
}

pub async fn list(tx: &mut TenantTx) -> sqlx::Result<Vec<StaffLine>> {
    sqlx::query_as(
        "with subjects as (
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
                    as last_sign_in
         from subjects s left join staff_members m on m.email = s.email
         order by s.email",
    )
    .fetch_all(tx.conn())
    .await
}
