//! The ente's staff in the console (`/admin/personale`): the list with each
//! member's standing, an invitation (`/invita`: e-mail, how they sign in,
//! roles, offices; the 7-day single-use link leaves through the outbox), one
//! member's page (roles and offices, deactivate, reactivate, a new link), and
//! the permission matrix (`matrix`, `/admin/permessi`). Two rules hold on every
//! path: the ente keeps at least one active admin, and an admin grants nothing
//! they could not do themselves. See docs/ORGANISATION.md.

pub mod matrix;

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, Query},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};

use super::{catalogue::changed, context, Admin, Section, READ, WRITE};
use crate::{
    auth::{
        authz::{Authz, RouteSpec, OWN_OFFICES},
        page::Page,
        session::CurrentSession,
        staff_local::store as enrolments,
        store::WELCOME_PATH,
    },
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    input::{normalize_email, normalize_fiscal_code},
    organisation::{
        offices,
        roles::{self, Role},
        staff::{self, Access, Invitation, SignIn, ADMIN_ROLE},
    },
    tenancy::{Method, Tenant},
};

pub fn routes() -> Vec<RouteSpec> {
    vec![
        RouteSpec::new("/admin/personale", &["GET"], READ, get(list)),
        RouteSpec::new("/admin/personale/invita", &["GET", "POST"], WRITE, get(invite_page).post(invite)),
        RouteSpec::new("/admin/personale/{email}", &["GET", "POST"], WRITE, get(member_page).post(save_access)),
        RouteSpec::new("/admin/personale/{email}/disattiva", &["POST"], WRITE, post(deactivate)),
        RouteSpec::new("/admin/personale/{email}/riattiva", &["POST"], WRITE, post(reactivate)),
        RouteSpec::new("/admin/personale/{email}/invito", &["POST"], WRITE, post(resend)),
    ]
    .into_iter()
    .chain(matrix::routes())
    .collect()
}

#[derive(Deserialize, Default)]
struct Outcome {
    esito: Option<String>,
}

fn outcome_key(esito: Option<&str>) -> Option<&'static str> {
    Some(match esito? {
        "invitato" => "admin.staff.outcome_invited",
        "salvato" => "admin.staff.outcome_saved",
        "disattivato" => "admin.staff.outcome_deactivated",
        "riattivato" => "admin.staff.outcome_reactivated",
        "invito" => "admin.staff.outcome_resent",
        _ => return None,
    })
}

async fn list(page: Page, admin: Admin, Query(q): Query<Outcome>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let staff = staff::list(&mut tx).await?;
    let seen = staff.iter().flat_map(|s| s.roles.clone()).collect::<Vec<_>>();
    let labels = roles::labels(&mut tx, seen, |k| page.text(&Text::new(k))).await?;
    tx.commit().await?;
    let mut context = context(&page, &admin, Section::Staff);
    context.insert("staff", &staff);
    context.insert("role_labels", &labels);
    context.insert("outcome", &outcome_key(q.esito.as_deref()));
    page.render("admin/staff.html", &context)
}

/// The invitation and access forms as posted (checkboxes repeat their name).
#[derive(Default, Serialize)]
struct AccessForm {
    email: String,
    sign_in: String,
    fiscal_code: String,
    roles: Vec<String>,
    offices: Vec<String>,
}

impl AccessForm {
    fn parse(body: &[u8]) -> Self {
        let mut form = Self::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            match k.as_ref() {
                "email" => form.email = v.trim().to_string(),
                "sign_in" => form.sign_in = v.into_owned(),
                "fiscal_code" => form.fiscal_code = v.trim().to_string(),
                "role" => form.roles.push(v.into_owned()),
                "office" => form.offices.push(v.into_owned()),
                _ => {}
            }
        }
        form.roles.sort();
        form.roles.dedup();
        form.offices.sort();
        form.offices.dedup();
        form
    }

    fn access(&self) -> Access {
        Access { roles: self.roles.clone(), offices: self.offices.clone() }
    }
}

/// The sign-in methods this ente offers its staff, as an invitation names them.
fn offered(tenant: &Tenant) -> Vec<SignIn> {
    let auth = &tenant.auth;
    SignIn::ALL
        .into_iter()
        .filter(|m| match m {
            SignIn::Provider => auth.staff_may_use(Method::Oidc),
            SignIn::SpidCie => auth.staff_may_use(Method::Spid) || auth.staff_may_use(Method::Cie),
            SignIn::Local => auth.staff_may_use(Method::Local),
        })
        .collect()
}

type Problems = BTreeMap<&'static str, Text>;

/// The roles and offices the form may name, and what granting them needs.
struct Choices {
    roles: Vec<Role>,
    offices: Vec<crate::admin::db::OfficeChoice>,
}

impl Choices {
    /// The roles, the open offices, and the closed ones in `held` (offices a
    /// member still belongs to stay choosable, so they can be taken away).
    async fn load(tx: &mut TenantTx, held: &[String]) -> sqlx::Result<Self> {
        let mut offices = crate::admin::db::offices(tx).await?;
        for code in held {
            if !offices.iter().any(|o| &o.code == code) {
                if let Some(o) = offices::one(tx, code).await? {
                    offices.push(crate::admin::db::OfficeChoice { code: o.code, name: o.name });
                }
            }
        }
        Ok(Self { roles: roles::all(tx).await?, offices })
    }
}

/// What is wrong with the roles and offices chosen, each next to its input:
/// unknown ones, none at all, and whatever of `new` (what the change gives)
/// the admin could not do themselves.
async fn access_problems(
    page: &Page,
    session: &CurrentSession,
    tx: &mut TenantTx,
    choices: &Choices,
    access: &Access,
    new: &[Access],
) -> AppResult<Problems> {
    let mut problems = Problems::new();
    if access.roles.is_empty() {
        problems.insert("roles", Text::new("admin.staff.check_roles"));
    } else if access.roles.iter().any(|r| !choices.roles.iter().any(|c| &c.key == r)) {
        problems.insert("roles", Text::new("admin.staff.check_role_unknown"));
    }
    if access.offices.iter().any(|o| !choices.offices.iter().any(|c| &c.code == o)) {
        problems.insert("offices", Text::new("admin.staff.check_office"));
    }
    for granted in new {
        if !problems.is_empty() {
            break;
        }
        if let Some(what) = beyond_granter(page, session, tx, granted).await? {
            problems.insert("roles", Text::new("admin.staff.check_grant").with("what", what));
        }
    }
    Ok(problems)
}

/// The first permission `access` would give that the signed-in admin lacks
/// (`role: object action`), if any: a role's rules, and for its permissions on
/// `office:own`, the same on each office chosen.
async fn beyond_granter(
    page: &Page,
    session: &CurrentSession,
    tx: &mut TenantTx,
    access: &Access,
) -> AppResult<Option<String>> {
    let (state, tenant) = (&page.state, &page.tenant.0);
    let mine = Authz::subjects(session);
    for role in &access.roles {
        for rule in roles::rules_of(tx, role).await? {
            let objects: Vec<String> = if rule.obj == OWN_OFFICES {
                access.offices.iter().map(|o| format!("office:{o}")).collect()
            } else {
                vec![rule.obj.clone()]
            };
            for obj in objects {
                if !state.authz.allows_any(state, tenant, &mine, &obj, &rule.act).await? {
                    return Ok(Some(format!("{role}: {obj} {}", rule.act)));
                }
            }
        }
    }
    Ok(None)
}

/// Whether taking `role` away from (or deactivating) `email` would leave the
/// ente without an active admin.
async fn is_last_admin(tx: &mut TenantTx, email: &str) -> sqlx::Result<bool> {
    let admins = staff::active_admins(tx).await?;
    Ok(admins.len() == 1 && admins[0] == email)
}

async fn invite_page(page: Page, admin: Admin) -> AppResult<Response> {
    let form = AccessForm {
        sign_in: offered(&page.tenant.0).first().map(|m| m.as_str()).unwrap_or("").into(),
        ..Default::default()
    };
    invite_form(&page, &admin, &form, Problems::new(), StatusCode::OK).await
}

async fn invite_form(
    page: &Page,
    admin: &Admin,
    form: &AccessForm,
    problems: Problems,
    status: StatusCode,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let choices = Choices::load(&mut tx, &[]).await?;
    tx.commit().await?;
    let mut context = context(page, admin, Section::Staff);
    context.insert("form", form);
    context.insert("methods", &offered(&page.tenant.0).iter().map(|m| m.as_str()).collect::<Vec<_>>());
    context.insert("roles", &choices.roles);
    context.insert("offices", &choices.offices);
    context.insert("errors", &words(page, problems));
    page.render_with(status, "admin/staff_invite.html", &context)
}

fn words(page: &Page, problems: Problems) -> BTreeMap<&'static str, String> {
    problems.into_iter().map(|(input, text)| (input, page.text(&text))).collect()
}

async fn invite(
    page: Page,
    admin: Admin,
    session: CurrentSession,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<Response> {
    let mut form = AccessForm::parse(&body);
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let choices = Choices::load(&mut tx, &[]).await?;
    let mut problems = Problems::new();
    let email = normalize_email(&form.email);
    match &email {
        None => {
            problems.insert("email", Text::new("admin.staff.check_email"));
        }
        Some(email) if staff::member(&mut tx, email).await?.is_some() => {
            problems.insert("email", Text::new("admin.staff.check_email_taken"));
        }
        Some(email) => form.email = email.clone(),
    }
    let sign_in = SignIn::parse(&form.sign_in).filter(|m| offered(&page.tenant.0).contains(m));
    if sign_in.is_none() {
        problems.insert("sign_in", Text::new("admin.staff.check_sign_in"));
    }
    let fiscal_code = match (sign_in, form.fiscal_code.as_str()) {
        (Some(SignIn::SpidCie), "") => {
            problems.insert("fiscal_code", Text::new("admin.staff.check_fiscal_code_needed"));
            None
        }
        (_, "") => None,
        (_, raw) => match normalize_fiscal_code(raw) {
            None => {
                problems.insert("fiscal_code", Text::new("admin.staff.check_fiscal_code"));
                None
            }
            Some(code) => {
                if let Some(holder) = staff::holder_of_fiscal_code(&mut tx, &code).await? {
                    problems
                        .insert("fiscal_code", Text::new("admin.staff.check_fiscal_code_taken").with("email", holder));
                }
                Some(code)
            }
        },
    };
    let access = form.access();
    problems.extend(access_problems(&page, &session, &mut tx, &choices, &access, std::slice::from_ref(&access)).await?);
    let (Some(email), Some(sign_in), true) = (email, sign_in, problems.is_empty()) else {
        tx.rollback().await?;
        return invite_form(&page, &admin, &form, problems, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let invitation = Invitation { email: &email, sign_in, fiscal_code: fiscal_code.as_deref(), access: &access };
    staff::add_invited(&mut tx, &invitation, &admin.actor).await?;
    send_invitation(&page, &headers, &mut tx, &email, sign_in, &admin.operator.label).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to("/admin/personale?esito=invitato").into_response())
}

/// Makes a new 7-day single-use link for `email` and queues the e-mail that
/// carries it (it leaves only if the transaction commits).
async fn send_invitation(
    page: &Page,
    headers: &HeaderMap,
    tx: &mut TenantTx,
    email: &str,
    sign_in: SignIn,
    by: &str,
) -> AppResult<()> {
    // A new link voids the ones sent before.
    staff::void_links(tx, email).await?;
    let token = enrolments::create_enrolment(tx, email).await?.ok_or(AppError::NotFound)?;
    let tenant = &page.tenant.0;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(&tenant.primary_host);
    let path = match sign_in {
        SignIn::Local => format!("/backoffice/accesso/attiva?t={token}"),
        _ => format!("{WELCOME_PATH}?t={token}"),
    };
    let link = format!("{}://{host}{path}", page.state.settings.public_scheme());
    let method = page.text(&Text::new(sign_in_key(sign_in)));
    let subject = page.text(&Text::new("admin.staff.mail_subject").with("ente", &tenant.name));
    let body = page.text(
        &Text::new("admin.staff.mail_body")
            .with("ente", &tenant.name)
            .with("by", by)
            .with("method", method)
            .with("link", link),
    );
    crate::notify::queue_mail(tx, email, &subject, &body).await?;
    Ok(())
}

fn sign_in_key(sign_in: SignIn) -> &'static str {
    match sign_in {
        SignIn::Provider => "admin.staff.method_provider",
        SignIn::SpidCie => "admin.staff.method_spid",
        SignIn::Local => "admin.staff.method_local",
    }
}

async fn member_page(
    page: Page,
    admin: Admin,
    Path(email): Path<String>,
    Query(q): Query<Outcome>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let member = staff::member(&mut tx, &email).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let form = AccessForm {
        email: email.clone(),
        roles: member.roles.clone(),
        offices: member.offices.clone(),
        ..Default::default()
    };
    member_form(&page, &admin, &member, &form, Problems::new(), outcome_key(q.esito.as_deref()), StatusCode::OK).await
}

async fn member_form(
    page: &Page,
    admin: &Admin,
    member: &staff::StaffLine,
    form: &AccessForm,
    problems: Problems,
    outcome: Option<&'static str>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let choices = Choices::load(&mut tx, &member.offices).await?;
    tx.commit().await?;
    let mut context = context(page, admin, Section::Staff);
    context.insert("member", member);
    context.insert("form", form);
    context.insert("roles", &choices.roles);
    context.insert("offices", &choices.offices);
    context.insert("errors", &words(page, problems));
    context.insert("outcome", &outcome);
    page.render_with(status, "admin/staff_member.html", &context)
}

async fn save_access(
    page: Page,
    admin: Admin,
    session: CurrentSession,
    Path(email): Path<String>,
    body: Bytes,
) -> AppResult<Response> {
    let mut form = AccessForm::parse(&body);
    form.email = email.clone();
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let member = staff::member(&mut tx, &email).await?.ok_or(AppError::NotFound)?;
    let choices = Choices::load(&mut tx, &member.offices).await?;
    // Only what the change adds must be within the admin's own reach: new
    // roles in every office chosen, and every role in the new offices.
    let access = form.access();
    let new = [
        Access {
            roles: access.roles.iter().filter(|r| !member.roles.contains(r)).cloned().collect(),
            offices: access.offices.clone(),
        },
        Access {
            roles: access.roles.clone(),
            offices: access.offices.iter().filter(|o| !member.offices.contains(o)).cloned().collect(),
        },
    ];
    let mut problems = access_problems(&page, &session, &mut tx, &choices, &access, &new).await?;
    if member.roles.iter().any(|r| r == ADMIN_ROLE)
        && !form.roles.iter().any(|r| r == ADMIN_ROLE)
        && is_last_admin(&mut tx, &email).await?
    {
        problems.insert("roles", Text::new("admin.staff.check_last_admin"));
    }
    if !problems.is_empty() {
        tx.rollback().await?;
        return member_form(&page, &admin, &member, &form, problems, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    staff::set_access(&mut tx, &email, &access, &admin.actor).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("{}?esito=salvato", member_url(&email))).into_response())
}

fn member_url(email: &str) -> String {
    format!("/admin/personale/{}", url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>())
}

async fn deactivate(page: Page, admin: Admin, Path(email): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let member = staff::member(&mut tx, &email).await?.ok_or(AppError::NotFound)?;
    if member.roles.iter().any(|r| r == ADMIN_ROLE) && is_last_admin(&mut tx, &email).await? {
        tx.rollback().await?;
        let form = AccessForm {
            email: email.clone(),
            roles: member.roles.clone(),
            offices: member.offices.clone(),
            ..Default::default()
        };
        let problems = Problems::from([("deactivate", Text::new("admin.staff.check_last_admin_deactivate"))]);
        return member_form(&page, &admin, &member, &form, problems, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    if member.status != "deactivated" {
        staff::deactivate(&mut tx, &email, &admin.actor).await?;
    }
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("{}?esito=disattivato", member_url(&email))).into_response())
}

async fn reactivate(page: Page, admin: Admin, Path(email): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    staff::member(&mut tx, &email).await?.ok_or(AppError::NotFound)?;
    staff::reactivate(&mut tx, &email, &admin.actor).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("{}?esito=riattivato", member_url(&email))).into_response())
}

/// A new invitation link for someone invited who has not come in yet.
async fn resend(page: Page, admin: Admin, headers: HeaderMap, Path(email): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let member = staff::member(&mut tx, &email).await?.ok_or(AppError::NotFound)?;
    let sign_in = member.sign_in.as_deref().and_then(SignIn::parse);
    let (Some(sign_in), "invited") = (sign_in, member.status.as_str()) else {
        return Err(AppError::Conflict);
    };
    send_invitation(&page, &headers, &mut tx, &email, sign_in, &admin.operator.label).await?;
    let change = crate::audit::Change {
        action: "staff.invite_again",
        object_type: "staff",
        object_id: email.clone(),
        before: None,
        after: None,
    };
    crate::audit::append(&mut tx, &admin.actor, change).await?;
    changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("{}?esito=invito", member_url(&email))).into_response())
}
