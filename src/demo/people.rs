//! Who acts in the demo: the citizens (the development identity provider's and
//! the demo's own, as the ente's users) and the ente's staff as operators.

use anyhow::Context;
use uuid::Uuid;

use super::{
    data::{data, Citizen, Rng},
    plan::Staffing,
};
use crate::{
    backoffice,
    db::TenantTx,
    procedure::{
        delegations,
        engine::{Operator, OperatorKind},
        workflow::Transition,
    },
    state::AppState,
    tenancy::Tenant,
    users,
};

/// A demo citizen, as the ente's user.
pub(super) struct Person {
    pub(super) user_id: Uuid,
    pub(super) fiscal_code: String,
    pub(super) given_name: String,
    pub(super) family_name: String,
    pub(super) email: String,
    pub(super) mobile: Option<String>,
    /// The company they represent, when they do: their cases are its cases.
    pub(super) delegation_id: Option<Uuid>,
}

impl Person {
    pub(super) fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

/// The development identity provider's citizens, then the demo's own: the
/// ente's users, found by fiscal code as signing in finds them.
pub(super) async fn citizens(tx: &mut TenantTx) -> anyhow::Result<Vec<Person>> {
    let d = data();
    let mut people: Vec<Citizen> = Vec::new();
    for code in &d.dev_citizens {
        let i = crate::auth::dev_idp::identities()
            .iter()
            .find(|i| &i.fiscal_code == code)
            .with_context(|| format!("{code} is not a development identity"))?;
        people.push(Citizen {
            fiscal_code: i.fiscal_code.clone(),
            given_name: i.given_name.clone(),
            family_name: i.family_name.clone(),
            email: i.email.clone(),
            mobile: i.mobile.clone(),
        });
    }
    // The marker last: a half-written ente never looks seeded (one transaction anyway).
    people.extend(d.citizens.iter().skip(1).cloned());
    people.push(d.citizens[0].clone());
    let mut out = Vec::new();
    for c in people {
        let user_id = users::for_identity(
            tx,
            users::ProvenIdentity {
                fiscal_code: &c.fiscal_code,
                given_name: &c.given_name,
                family_name: &c.family_name,
                email: Some(&c.email),
                mobile: c.mobile.as_deref(),
            },
        )
        .await?;
        let delegation_id = represent(tx, user_id, &c.fiscal_code).await?;
        out.push(Person {
            user_id,
            delegation_id,
            fiscal_code: c.fiscal_code,
            given_name: c.given_name,
            family_name: c.family_name,
            email: c.email,
            mobile: c.mobile,
        });
    }
    Ok(out)
}

/// Declares the company `fiscal_code` represents in the demo, as the citizen
/// would on their delegations page; its delegation.
async fn represent(tx: &mut TenantTx, user_id: Uuid, fiscal_code: &str) -> anyhow::Result<Option<Uuid>> {
    let Some(r) = data().representations.iter().find(|r| r.fiscal_code == fiscal_code) else {
        return Ok(None);
    };
    let vat = crate::input::normalize_vat_number(&r.vat_number).context("a demo VAT number")?;
    let new = delegations::NewDelegation {
        kind: "company",
        represented_name: &r.company,
        represented_code: &vat,
        capacity: &r.capacity,
    };
    delegations::add(tx, user_id, new).await?;
    let held = delegations::active(tx, user_id).await?;
    Ok(held.into_iter().find(|d| d.represented_code == vat).map(|d| d.id))
}

/// The ente's staff as operators: roles and offices from its policy.
pub(super) struct Staff {
    pub(super) members: Vec<Member>,
    pub(super) offices: Vec<String>,
}

pub(super) struct Member {
    pub(super) operator: Operator,
    /// The offices they belong to (`uo:` in the policy), not those an admin may work.
    pub(super) own: Vec<String>,
}

impl Staff {
    pub(super) async fn load(state: &AppState, tenant: &Tenant, tx: &mut TenantTx) -> anyhow::Result<Self> {
        let offices = backoffice::db::office_codes(tx).await?;
        let rows: Vec<(String, Option<String>)> =
            sqlx::query_as("select email, fiscal_code from staff_members order by email").fetch_all(tx.conn()).await?;
        let mut members = Vec::new();
        for (email, fiscal_code) in rows {
            // Staff sign in with SPID/CIE by fiscal code: without one there is no user to act as.
            let Some(fiscal_code) = fiscal_code else { continue };
            let subject = format!("staff:{email}");
            let (given, family) = match crate::auth::dev_idp::identities().iter().find(|i| i.fiscal_code == fiscal_code)
            {
                Some(i) => (i.given_name.clone(), i.family_name.clone()),
                None => {
                    let local = email.split('@').next().unwrap_or_default();
                    let mut parts = local.split('.').map(capitalised);
                    (parts.next().unwrap_or_default(), parts.collect::<Vec<_>>().join(" "))
                }
            };
            let user_id = users::for_identity(
                tx,
                users::ProvenIdentity {
                    fiscal_code: &fiscal_code,
                    given_name: &given,
                    family_name: &family,
                    email: Some(&email),
                    mobile: None,
                },
            )
            .await?;
            users::mark_staff(tx, user_id).await?;
            let groups: Vec<String> =
                sqlx::query_scalar("select v1 from authz_rules where ptype = 'g' and v0 = $1 order by v1")
                    .bind(&subject)
                    .fetch_all(tx.conn())
                    .await?;
            let own: Vec<String> = groups.iter().filter_map(|g| g.strip_prefix("uo:").map(str::to_string)).collect();
            let mut roles = vec!["citizen".to_string()];
            roles.extend(groups.iter().filter(|g| !g.starts_with("uo:")).cloned());
            let subjects = [subject];
            let rights = state.authz.office_rights(state, tenant, &subjects, &offices).await?;
            members.push(Member {
                operator: Operator {
                    kind: OperatorKind::Staff,
                    user_id: Some(user_id),
                    label: format!("{given} {family}"),
                    roles,
                    read_offices: rights.read,
                    process_offices: rights.process,
                    assign_offices: rights.assign,
                },
                own,
            });
        }
        Ok(Self { members, offices })
    }

    /// Who works a case of `office` (with `transition`, one allowed to run it):
    /// a member of the office first, else anyone who may (an admin).
    pub(super) fn for_case(&self, office: &str, transition: Option<&Transition>) -> Option<&Operator> {
        let fits = |m: &&Member| m.operator.may_process(office) && transition.is_none_or(|t| m.operator.may_run(t));
        self.members
            .iter()
            .filter(fits)
            .find(|m| m.own.iter().any(|o| o == office))
            .or_else(|| self.members.iter().find(fits))
            .map(|m| &m.operator)
    }
}

impl Staffing for Staff {
    fn can_run(&self, office: &str, transition: &Transition) -> bool {
        self.for_case(office, Some(transition)).is_some()
    }

    fn other_office(&self, office: &str, rng: &mut Rng) -> Option<String> {
        let others: Vec<&String> =
            self.offices.iter().filter(|o| *o != office && self.for_case(o, None).is_some()).collect();
        (!others.is_empty()).then(|| rng.pick(&others).to_string())
    }
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}
