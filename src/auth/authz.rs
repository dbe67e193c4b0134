//! Authorization: Casbin RBAC with domains, the ente being the domain. Rules live
//! in `authz_rules` (seeded from the tenant's `policy.csv` or the platform
//! default); one enforcer per tenant, loaded lazily, cached, dropped on change.
//!
//! Every route is declared once, with what it needs (`RouteSpec`); the route
//! table is walked by a test so no route goes without a policy.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    middleware::{from_fn_with_state, Next},
    response::{IntoResponse, Response},
    routing::MethodRouter,
    Extension, Router,
};
use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use moka::future::Cache;
use uuid::Uuid;

use super::session::CurrentSession;
use crate::tenancy::Level;
use crate::{
    db::TenantTx,
    error::AppError,
    state::AppState,
    tenancy::{Site, Tenant},
};

pub const MODEL: &str = "
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && keyMatch(r.obj, p.obj) && r.act == p.act
";

pub const DEFAULT_POLICY: &str = include_str!("default_policy.csv");

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in person whose roles allow `act` on `obj`, at `min_level` or above.
    Permission { obj: &'static str, act: &'static str, min_level: Level },
    /// A staff session (opened at `/backoffice/accesso`) whose roles allow `act`
    /// on `obj`; anyone else is sent to the staff sign-in.
    Staff { obj: &'static str, act: &'static str },
}

impl Access {
    pub const fn signed_in(obj: &'static str, act: &'static str) -> Self {
        Self::Permission { obj, act, min_level: Level::L1 }
    }

    pub const fn staff(obj: &'static str, act: &'static str) -> Self {
        Self::Staff { obj, act }
    }
}

/// One route: path, the methods it answers, what it needs, its handlers.
pub struct RouteSpec {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    pub access: Access,
    /// Anonymous answers are the same for everyone (see `web::page_cache`).
    pub cacheable: bool,
    pub handler: MethodRouter<AppState>,
}

impl RouteSpec {
    pub fn new(
        path: &'static str,
        methods: &'static [&'static str],
        access: Access,
        handler: MethodRouter<AppState>,
    ) -> Self {
        Self { path, methods, access, cacheable: false, handler }
    }

    pub fn cacheable(mut self) -> Self {
        self.cacheable = true;
        self
    }
}

/// The route table entry, without handlers (what the policy walk reads).
#[derive(Clone, Debug)]
pub struct RouteInfo {
    pub path: &'static str,
    pub methods: &'static [&'static str],
    pub access: Access,
}

/// Builds a router from route specs: the one place routes are registered.
pub fn router_from(specs: Vec<RouteSpec>, state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for spec in specs {
        let mut handler = spec.handler.route_layer(from_fn_with_state(state.clone(), authorize));
        if spec.cacheable {
            handler = handler.route_layer(axum::middleware::from_fn(crate::web::page_cache::mark_cacheable));
        }
        router = router.route(spec.path, handler.route_layer(Extension(spec.access)));
    }
    router
}

pub fn route_info(specs: &[RouteSpec]) -> Vec<RouteInfo> {
    specs.iter().map(|s| RouteInfo { path: s.path, methods: s.methods, access: s.access }).collect()
}

async fn authorize(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    request: Request,
    next: Next,
) -> Response {
    let (obj, act, min_level, staff) = match access {
        Access::Public => return next.run(request).await,
        Access::Permission { obj, act, min_level } => (obj, act, min_level, false),
        Access::Staff { obj, act } => (obj, act, Level::L1, true),
    };
    let (Some(Site::Tenant(tenant)), session) =
        (request.extensions().get::<Site>().cloned(), request.extensions().get::<CurrentSession>().cloned())
    else {
        return AppError::NotFound.into_response();
    };
    let next_path = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
    let sign_in = || {
        if staff {
            AppError::StaffSignInRequired { next: next_path.clone() }
        } else {
            AppError::SignInRequired { next: next_path.clone() }
        }
    };
    let Some(session) = session else {
        return sign_in().into_response();
    };
    // A citizen session never carries staff roles, whoever the person is.
    if staff && session.staff_subject.is_none() {
        return AppError::Forbidden.into_response();
    }
    if session.level < min_level {
        return sign_in().into_response();
    }
    match state.authz.allows(&state, &tenant, &session, obj, act).await {
        Ok(true) => next.run(request).await,
        Ok(false) => AppError::Forbidden.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The object a role's permissions on the offices its holder belongs to name.
pub const OWN_OFFICES: &str = "office:own";

/// What `Authz::office_rights` finds.
#[derive(Debug, Default, Clone)]
pub struct OfficeRights {
    pub read: Vec<String>,
    pub process: Vec<String>,
    pub assign: Vec<String>,
}

#[derive(Clone)]
pub struct Authz {
    enforcers: Cache<Uuid, Arc<Enforcer>>,
}

impl Default for Authz {
    fn default() -> Self {
        Self { enforcers: Cache::builder().max_capacity(10_000).time_to_idle(Duration::from_secs(3600)).build() }
    }
}

impl Authz {
    pub fn invalidate_all(&self) {
        self.enforcers.invalidate_all();
    }

    /// The subjects a session acts as: every signed-in person is a citizen; staff
    /// roles apply only to sessions opened at the staff sign-in, as the staff
    /// member it matched (`Opening::staff_subject`: the e-mail the ente's provider
    /// asserted, or the staff entry of the SPID/CIE fiscal code), never a profile
    /// e-mail the user may change.
    pub fn subjects(session: &CurrentSession) -> Vec<String> {
        let mut subjects = vec!["citizen".to_string()];
        subjects.extend(session.staff_subject.clone());
        subjects
    }

    pub async fn allows(
        &self,
        state: &AppState,
        tenant: &Tenant,
        session: &CurrentSession,
        obj: &str,
        act: &str,
    ) -> Result<bool, AppError> {
        self.allows_any(state, tenant, &Self::subjects(session), obj, act).await
    }

    /// Whether any of `subjects` (a session's, or an API token's role) may.
    pub async fn allows_any(
        &self,
        state: &AppState,
        tenant: &Tenant,
        subjects: &[String],
        obj: &str,
        act: &str,
    ) -> Result<bool, AppError> {
        let enforcer = self.enforcer(state, tenant).await?;
        any_allows(&enforcer, tenant, subjects, obj, act)
    }

    pub async fn roles_of(
        &self,
        state: &AppState,
        tenant: &Tenant,
        session: &CurrentSession,
    ) -> Result<Vec<String>, AppError> {
        let enforcer = self.enforcer(state, tenant).await?;
        let mut roles = vec!["citizen".to_string()];
        for subject in Self::subjects(session).into_iter().skip(1) {
            for rule in enforcer.get_filtered_grouping_policy(0, vec![subject]) {
                roles.push(rule[1].clone());
            }
        }
        Ok(roles)
    }

    /// The offices among `codes` whose cases `subjects` may read, process and
    /// reassign: by a permission on `office:<CODE>` (or `office:*`), or by a
    /// permission on `office:own` for the offices they belong to (`uo:<CODE>`).
    pub async fn office_rights(
        &self,
        state: &AppState,
        tenant: &Tenant,
        subjects: &[String],
        codes: &[String],
    ) -> Result<OfficeRights, AppError> {
        let enforcer = self.enforcer(state, tenant).await?;
        let may = |obj: &str, act: &str| any_allows(&enforcer, tenant, subjects, obj, act);
        let mut member_of = std::collections::HashSet::new();
        for subject in subjects {
            for rule in enforcer.get_filtered_grouping_policy(0, vec![subject.clone()]) {
                if let Some(code) = rule[1].strip_prefix("uo:") {
                    member_of.insert(code.to_string());
                }
            }
        }
        let mut rights = OfficeRights::default();
        for (act, list) in
            [("read", &mut rights.read), ("process", &mut rights.process), ("assign", &mut rights.assign)]
        {
            let own = may(OWN_OFFICES, act)?;
            for code in codes {
                if (own && member_of.contains(code)) || may(&format!("office:{code}"), act)? {
                    list.push(code.clone());
                }
            }
        }
        Ok(rights)
    }

    async fn enforcer(&self, state: &AppState, tenant: &Tenant) -> Result<Arc<Enforcer>, AppError> {
        let (db, id) = (state.db.clone(), tenant.id);
        self.enforcers
            .try_get_with(id, async move { load_enforcer(&db, id).await.map(Arc::new) })
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("loading the authorization policy: {e}")))
    }
}

/// Whether the policy lets any of `subjects` do `act` on `obj` in the tenant.
fn any_allows(
    enforcer: &Enforcer,
    tenant: &Tenant,
    subjects: &[String],
    obj: &str,
    act: &str,
) -> Result<bool, AppError> {
    for subject in subjects {
        if enforcer
            .enforce((subject.as_str(), tenant.slug.as_str(), obj, act))
            .map_err(|e| anyhow::anyhow!("casbin: {e}"))?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn load_enforcer(db: &sqlx::PgPool, tenant_id: Uuid) -> anyhow::Result<Enforcer> {
    let mut tx = TenantTx::begin(db, tenant_id).await?;
    let rows: Vec<(String, String, String, String, String)> =
        sqlx::query_as("select ptype, v0, v1, v2, v3 from authz_rules order by ptype, v0, v1, v2, v3")
            .fetch_all(tx.conn())
            .await?;
    tx.commit().await?;
    let model = DefaultModel::from_str(MODEL).await?;
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
    let (mut policies, mut groupings) = (Vec::new(), Vec::new());
    for (ptype, v0, v1, v2, v3) in rows {
        match ptype.as_str() {
            "p" => policies.push(vec![v0, v1, v2, v3]),
            _ => groupings.push(vec![v0, v1, v2]),
        }
    }
    if !policies.is_empty() {
        enforcer.add_policies(policies).await?;
    }
    if !groupings.is_empty() {
        enforcer.add_grouping_policies(groupings).await?;
    }
    Ok(enforcer)
}

/// A policy file parsed into rows for `authz_rules`, with the ente as domain.
/// Lines: `p, role, obj, act` and `g, staff:<email>, role`; `#` starts a comment.
pub fn parse_policy(text: &str, domain: &str) -> anyhow::Result<Vec<[String; 5]>> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let rule = match fields.as_slice() {
            ["p", role, obj, act] => ["p", role, domain, obj, act],
            ["g", subject, role] => ["g", subject, role, domain, ""],
            _ => anyhow::bail!("policy line {}: expected `p, role, object, action` or `g, subject, role`", n + 1),
        };
        if rule.iter().take(4).any(|f| f.is_empty()) {
            anyhow::bail!("policy line {}: empty field", n + 1);
        }
        rules.push(rule.map(str::to_string));
    }
    Ok(rules)
}

/// Makes the recipe's rules of the tenant be `rules`; returns how many rows
/// changed. What the console owns stays: rules it wrote (`origin = 'console'`),
/// the roles of a staff member it invited or changed, and the permissions of a
/// role its matrix owns (`staff_roles`).
pub async fn sync_rules(tx: &mut TenantTx, rules: &[[String; 5]]) -> sqlx::Result<u64> {
    let current: Vec<(String, String, String, String, String)> =
        sqlx::query_as("select ptype, v0, v1, v2, v3 from authz_rules where origin = 'recipe'")
            .fetch_all(tx.conn())
            .await?;
    let current: std::collections::BTreeSet<[String; 5]> =
        current.into_iter().map(|(a, b, c, d, e)| [a, b, c, d, e]).collect();
    let console_staff: std::collections::HashSet<String> =
        sqlx::query_scalar("select 'staff:' || email from staff_members where origin = 'console'")
            .fetch_all(tx.conn())
            .await?
            .into_iter()
            .collect();
    let console_roles: std::collections::HashSet<String> =
        sqlx::query_scalar("select key from staff_roles").fetch_all(tx.conn()).await?.into_iter().collect();
    let owned_by_console = |rule: &[String; 5]| match rule[0].as_str() {
        "g" => console_staff.contains(&rule[1]),
        _ => console_roles.contains(&rule[1]),
    };
    // Neither removed nor added: a console-owned subject's rules stay as they are.
    let current: std::collections::BTreeSet<[String; 5]> =
        current.into_iter().filter(|r| !owned_by_console(r)).collect();
    let wanted: std::collections::BTreeSet<[String; 5]> =
        rules.iter().filter(|r| !owned_by_console(r)).cloned().collect();
    let mut changes = 0;
    for gone in current.difference(&wanted) {
        changes += sqlx::query(
            "delete from authz_rules
             where origin = 'recipe' and ptype = $1 and v0 = $2 and v1 = $3 and v2 = $4 and v3 = $5",
        )
        .bind(&gone[0])
        .bind(&gone[1])
        .bind(&gone[2])
        .bind(&gone[3])
        .bind(&gone[4])
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    for new in wanted.difference(&current) {
        changes += sqlx::query(
            "insert into authz_rules (tenant_id, ptype, v0, v1, v2, v3) values ($1, $2, $3, $4, $5, $6)
             on conflict do nothing",
        )
        .bind(tx.tenant_id)
        .bind(&new[0])
        .bind(&new[1])
        .bind(&new[2])
        .bind(&new[3])
        .bind(&new[4])
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn policy_lines_get_the_domain() {
        let rules =
            super::parse_policy("p, citizen, account, read\n# c\ng, staff:a@b.it, operator\n", "valmora").unwrap();
        assert_eq!(rules[0], ["p", "citizen", "valmora", "account", "read"].map(String::from));
        assert_eq!(rules[1], ["g", "staff:a@b.it", "operator", "valmora", ""].map(String::from));
        assert!(super::parse_policy("p, x", "v").is_err());
    }
}
