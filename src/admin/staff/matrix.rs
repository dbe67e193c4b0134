//! The permission matrix (`/admin/permessi`): a column per role (the built-in
//! ones and the ente's own), a row per permission — the console, the back
//! office, the cases of one's own offices, of every office, of each office.
//! Saving writes the ente's Casbin rules (`organisation::roles::apply`), audits
//! the change and drops every node's cached policy (`changed`: a NOTIFY that
//! each node's listener turns into a cache flush). An admin cannot tick what
//! they could not do themselves, and the admin role keeps the console.

use std::collections::BTreeSet;

use axum::{
    body::Bytes,
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Serialize;

use super::Outcome;
use crate::{
    admin::{catalogue::changed, context, Admin, Section, WRITE},
    auth::{
        authz::{Authz, RouteSpec},
        page::Page,
        session::CurrentSession,
    },
    db::TenantTx,
    error::AppResult,
    i18n::Text,
    organisation::{
        offices,
        roles::{self, MatrixChange, Permission, Role},
    },
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/admin/permessi", &["GET", "POST"], WRITE, get(page).post(save)),
        RouteSpec::new("/admin/permessi/ruoli", &["POST"], WRITE, post(create_role)),
    ]
}

#[derive(Serialize)]
struct Column {
    key: String,
    label: String,
}

#[derive(Serialize)]
struct Cell {
    role: String,
    checked: bool,
    locked: bool,
}

#[derive(Serialize)]
struct Row {
    key: String,
    /// For the checkboxes' ids: the key in letters, digits and dashes.
    id: String,
    label: String,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Group {
    id: String,
    label: String,
    rows: Vec<Row>,
}

/// The matrix's permissions and roles, as they are.
struct Matrix {
    roles: Vec<Role>,
    permissions: Vec<Permission>,
    /// Office code → name, for the groups' headings.
    office_names: Vec<(String, String)>,
    grants: BTreeSet<(String, Permission)>,
}

impl Matrix {
    async fn load(tx: &mut TenantTx) -> sqlx::Result<Self> {
        let roles = roles::all(tx).await?;
        let open: Vec<(String, String)> =
            offices::all(tx).await?.into_iter().filter(|o| !o.closed).map(|o| (o.code, o.name)).collect();
        let codes: Vec<String> = open.iter().map(|(c, _)| c.clone()).collect();
        let permissions = roles::permissions(&codes);
        let keys: Vec<&str> = roles.iter().map(|r| r.key.as_str()).collect();
        let grants =
            roles::grants(tx, &permissions).await?.into_iter().filter(|(r, _)| keys.contains(&r.as_str())).collect();
        Ok(Self { roles, permissions, office_names: open, grants })
    }

    /// The grants a posted form asks for: ticked cells of known roles and
    /// permissions, and the locked ones whatever was posted.
    fn wanted(&self, body: &[u8]) -> BTreeSet<(String, Permission)> {
        let mut wanted = BTreeSet::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if k != "cell" {
                continue;
            }
            let Some((role, key)) = v.split_once('|') else { continue };
            let found = self.permissions.iter().find(|p| p.key() == key);
            if let (Some(p), true) = (found, self.roles.iter().any(|r| r.key == role)) {
                wanted.insert((role.to_string(), p.clone()));
            }
        }
        for role in &self.roles {
            for p in self.permissions.iter().filter(|p| roles::locked(&role.key, p)) {
                wanted.insert((role.key.clone(), p.clone()));
            }
        }
        wanted
    }

    fn groups(&self, page: &Page, shown: &BTreeSet<(String, Permission)>) -> (Vec<Column>, Vec<Group>) {
        let label_of = |role: &Role| match roles::built_in_label(&role.key) {
            Some(key) => page.text(&Text::new(key)),
            None => role.label.clone(),
        };
        let columns = self.roles.iter().map(|r| Column { key: r.key.clone(), label: label_of(r) }).collect();
        let row = |p: &Permission| Row {
            key: p.key(),
            id: p.key().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect::<String>()
                + if p.obj.ends_with('*') { "all" } else { "" },
            label: page.text(&Text::new(match (p.obj.as_str(), p.act.as_str()) {
                ("backoffice", _) => "admin.roles.p_backoffice",
                ("admin_console", "read") => "admin.roles.p_console_read",
                ("admin_console", _) => "admin.roles.p_console_write",
                (_, "read") => "admin.roles.p_read",
                (_, "process") => "admin.roles.p_process",
                _ => "admin.roles.p_assign",
            })),
            cells: self
                .roles
                .iter()
                .map(|r| Cell {
                    role: r.key.clone(),
                    checked: shown.contains(&(r.key.clone(), p.clone())),
                    locked: roles::locked(&r.key, p),
                })
                .collect(),
        };
        let group = |id: &str, label: String, filter: &dyn Fn(&Permission) -> bool| Group {
            id: id.to_string(),
            label,
            rows: self.permissions.iter().filter(|p| filter(p)).map(row).collect(),
        };
        let mut groups = vec![
            group("console", page.text(&Text::new("admin.roles.group_console")), &|p| !p.obj.starts_with("office:")),
            group("own", page.text(&Text::new("admin.roles.group_own")), &|p| p.obj == "office:own"),
            group("all", page.text(&Text::new("admin.roles.group_all")), &|p| p.obj == "office:*"),
        ];
        for (code, name) in &self.office_names {
            let obj = format!("office:{code}");
            groups.push(group(&format!("uo-{code}"), format!("{name} ({code})"), &|p| p.obj == obj));
        }
        (columns, groups)
    }
}

async fn render(
    page: &Page,
    admin: &Admin,
    matrix: &Matrix,
    shown: &BTreeSet<(String, Permission)>,
    errors: serde_json::Value,
    outcome: Option<&'static str>,
    status: StatusCode,
) -> AppResult<Response> {
    let (columns, groups) = matrix.groups(page, shown);
    let mut context = context(page, admin, Section::Permissions);
    context.insert("columns", &columns);
    context.insert("groups", &groups);
    context.insert("errors", &errors);
    context.insert("outcome", &outcome);
    page.render_with(status, "admin/permissions.html", &context)
}

async fn page(page: Page, admin: Admin, Query(q): Query<Outcome>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let matrix = Matrix::load(&mut tx).await?;
    tx.commit().await?;
    let outcome = match q.esito.as_deref() {
        Some("salvato") => Some("admin.roles.outcome_saved"),
        Some("ruolo") => Some("admin.roles.outcome_created"),
        _ => None,
    };
    render(&page, &admin, &matrix, &matrix.grants, serde_json::json!({}), outcome, StatusCode::OK).await
}

/// Saves the matrix, refusing any tick the admin could not do themselves.
async fn save(page: Page, admin: Admin, session: CurrentSession, body: Bytes) -> AppResult<Response> {
    let (state, tenant) = (&page.state, &page.tenant.0);
    let mine = Authz::subjects(&session);
    let mut tx = TenantTx::begin(&state.db, tenant.id).await?;
    let matrix = Matrix::load(&mut tx).await?;
    let wanted = matrix.wanted(&body);
    let change = MatrixChange::between(&matrix.grants, &wanted);
    for (role, p) in &change.added {
        if !state.authz.allows_any(state, tenant, &mine, &p.obj, &p.act).await? {
            tx.rollback().await?;
            let what = format!("{role}: {} {}", p.obj, p.act);
            let errors =
                serde_json::json!({ "matrix": page.text(&Text::new("admin.roles.check_grant").with("what", what)) });
            return render(&page, &admin, &matrix, &wanted, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    }
    if !change.is_empty() {
        roles::apply(&mut tx, &change, &admin.actor).await?;
    }
    changed(state, tx).await?;
    Ok(Redirect::to("/admin/permessi?esito=salvato").into_response())
}

async fn create_role(page: Page, admin: Admin, body: Bytes) -> AppResult<Response> {
    let label: String = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "label")
        .map(|(_, v)| v.trim().chars().take(80).collect())
        .unwrap_or_default();
    let key = roles::key_for(&label);
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    if let Some(refusal) = roles::refusal_of_new(&mut tx, &key).await? {
        let matrix = Matrix::load(&mut tx).await?;
        tx.rollback().await?;
        let errors = serde_json::json!({ "label": page.text(&Text::new(refusal)), "label_value": label });
        return render(&page, &admin, &matrix, &matrix.grants, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    roles::create(&mut tx, &key, &label, &admin.actor).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("/admin/permessi?esito=ruolo#ruolo-{key}")).into_response())
}
