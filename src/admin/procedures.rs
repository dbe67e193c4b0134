//! A procedure in the console: its service page edited on the draft (every
//! field of the Modello Comuni page and the terms a case copies), the preview
//! exactly as the citizen will see it, "publish" with the change list in words,
//! "discard draft" and the history of revisions.
//!
//! Saves are never lost: a draft with problems is saved and shown with them
//! (it simply cannot be published); a value that cannot be read (a time limit
//! that is not a number) is shown back, as typed, next to its field; a save
//! made from an older version of the draft is refused, naming who saved since
//! and showing both versions.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, Query},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::Serialize;
use tera::Context;

use super::{catalogue::Outcome, context, db, Admin, Section};
use crate::{
    auth::page::Page,
    catalog::{self, db::ProcedureDetail, revisions},
    db::TenantTx,
    error::{AppError, AppResult},
    procedure::{revision::ProcedureContent, spec::Fee},
    tenancy::is_valid_slug,
};

/// The inputs of the editor, in page order: name, whether it is a long text.
/// The names are `ProcedureContent`'s fields and the `admin.procedure.*` labels.
const TEXTS: &[(&str, bool)] = &[
    ("title", false),
    ("summary", true),
    ("description", true),
    ("audience", true),
    ("how_to", true),
    ("required_documents", true),
    ("outcome", true),
    ("calendar_text", true),
    ("costs", true),
    ("conditions", true),
    ("legal_basis", true),
    ("contacts", true),
    ("officer", false),
    ("keywords", false),
];

/// Rows of fees the editor offers beyond those filled (no JavaScript needed).
const SPARE_FEE_ROWS: usize = 2;

/// The editor's inputs as strings, as shown (and as typed back on a refusal).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
struct Values {
    text: BTreeMap<&'static str, String>,
    office: String,
    time_limit_days: String,
    min_level: String,
    online: bool,
    fees: Vec<(String, String)>,
}

impl Values {
    fn of(c: &ProcedureContent) -> Self {
        let mut text = BTreeMap::new();
        for (name, _) in TEXTS {
            let value = match *name {
                "title" => c.title.clone(),
                "summary" => c.summary.clone(),
                "description" => c.description.clone(),
                "audience" => c.audience.clone(),
                "how_to" => c.how_to.clone(),
                "required_documents" => c.required_documents.join("\n"),
                "outcome" => c.outcome.clone(),
                "calendar_text" => c.calendar_text.clone(),
                "costs" => c.costs.clone(),
                "conditions" => c.conditions.clone(),
                "legal_basis" => c.legal_basis.join("\n"),
                "contacts" => c.contacts.clone(),
                "officer" => c.officer.clone(),
                "keywords" => c.keywords.join(", "),
                _ => unreachable!("every TEXTS name is a field"),
            };
            text.insert(*name, value);
        }
        Self {
            text,
            office: c.office.clone(),
            time_limit_days: c.time_limit_days.to_string(),
            min_level: c.min_level.to_string(),
            online: c.online,
            fees: c.fees.iter().map(|f| (f.label.clone(), f.amount.clone())).collect(),
        }
    }

    /// What the browser sent (repeated `fee_label`/`fee_amount` pair by order).
    fn from_form(fields: &[(String, String)]) -> (Self, Option<i32>) {
        // Every text input is there, empty when the browser left it out.
        let mut values = Values { text: TEXTS.iter().map(|(n, _)| (*n, String::new())).collect(), ..Values::default() };
        let (mut labels, mut amounts) = (Vec::new(), Vec::new());
        let mut version = None;
        for (name, value) in fields {
            let value = value.replace("\r\n", "\n");
            match name.as_str() {
                "office" => values.office = value.trim().to_string(),
                "time_limit_days" => values.time_limit_days = value.trim().to_string(),
                "min_level" => values.min_level = value.trim().to_string(),
                "online" => values.online = true,
                "fee_label" => labels.push(value.trim().to_string()),
                "fee_amount" => amounts.push(value.trim().to_string()),
                "version" => version = value.trim().parse().ok(),
                other => {
                    if let Some((name, _)) = TEXTS.iter().find(|(n, _)| *n == other) {
                        values.text.insert(name, value.trim().chars().take(20_000).collect());
                    }
                }
            }
        }
        values.fees = labels.into_iter().zip(amounts).filter(|(l, a)| !(l.is_empty() && a.is_empty())).collect();
        (values, version)
    }

    /// The content these values make, keeping what the editor does not show
    /// (form, workflow) from `base`; or the inputs that cannot be read.
    fn content(&self, base: &ProcedureContent) -> Result<ProcedureContent, BTreeMap<&'static str, &'static str>> {
        let mut unreadable = BTreeMap::new();
        let time_limit_days = self.time_limit_days.parse::<i32>().unwrap_or_else(|_| {
            unreadable.insert("time_limit_days", "admin.check.time_limit");
            0
        });
        let min_level = match self.min_level.as_str() {
            "1" | "2" | "3" => self.min_level.parse().unwrap_or(1),
            _ => {
                unreadable.insert("min_level", "admin.check.min_level");
                1
            }
        };
        if !unreadable.is_empty() {
            return Err(unreadable);
        }
        let text = |name: &str| self.text.get(name).cloned().unwrap_or_default();
        let lines =
            |name: &str| text(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        Ok(ProcedureContent {
            title: text("title"),
            summary: text("summary"),
            description: text("description"),
            audience: text("audience"),
            how_to: text("how_to"),
            required_documents: lines("required_documents"),
            costs: text("costs"),
            fees: self
                .fees
                .iter()
                .map(|(label, amount)| Fee { label: label.clone(), amount: amount.clone() })
                .collect(),
            office: self.office.clone(),
            officer: text("officer"),
            time_limit_days,
            calendar_text: text("calendar_text"),
            legal_basis: lines("legal_basis"),
            outcome: text("outcome"),
            conditions: text("conditions"),
            keywords: text("keywords")
                .split([',', '\n'])
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from)
                .collect(),
            online: self.online,
            min_level,
            contacts: text("contacts"),
            form: base.form.clone(),
            workflow: base.workflow.clone(),
        })
    }
}

/// A field the other admin's save and this one disagree on.
#[derive(Serialize)]
struct Disagreement {
    field: &'static str,
    theirs: String,
    yours: String,
}

/// What the editor shows besides the values.
struct Editor<'a> {
    values: &'a Values,
    /// Messages next to the fields, in the visitor's language.
    errors: BTreeMap<&'static str, String>,
    status: StatusCode,
    outcome: Option<&'static str>,
    conflict: Option<(&'a revisions::Draft, Vec<Disagreement>)>,
}

async fn editor_page(
    page: &Page,
    admin: &Admin,
    slug: &str,
    draft: &revisions::Draft,
    editor: Editor<'_>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    let offices = db::offices(&mut tx).await?;
    let officers = db::officers(&mut tx).await?;
    let categories = db::categories(&mut tx).await?;
    tx.commit().await?;
    let mut fees = editor.values.fees.clone();
    fees.extend(std::iter::repeat_n((String::new(), String::new()), SPARE_FEE_ROWS));
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("texts", TEXTS);
    context.insert("values", editor.values);
    context.insert("fees", &fees);
    context.insert("errors", &editor.errors);
    context.insert("offices", &offices);
    context.insert("officers", &officers);
    context.insert("categories", &categories);
    context.insert("draft", draft);
    context.insert("outcome", &editor.outcome);
    if let Some((theirs, disagreements)) = &editor.conflict {
        context.insert("conflict", theirs);
        context.insert("disagreements", disagreements);
    }
    page.render_with(editor.status, "admin/procedure.html", &context)
}

/// The problems of the draft, by input, in the visitor's language.
async fn problems_of(page: &Page, content: &ProcedureContent) -> AppResult<BTreeMap<&'static str, String>> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let offices = db::offices(&mut tx).await?;
    tx.commit().await?;
    let codes: Vec<&str> = offices.iter().map(|o| o.code.as_str()).collect();
    let mut errors = BTreeMap::new();
    for problem in content.problems(&codes) {
        errors.entry(problem.at).or_insert_with(|| page.text(&problem.message));
    }
    Ok(errors)
}

async fn load_draft(page: &Page, slug: &str) -> AppResult<revisions::Draft> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft = revisions::draft(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(draft)
}

pub async fn editor(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Query(outcome): Query<Outcome>,
) -> AppResult<Response> {
    let draft = load_draft(&page, &slug).await?;
    let values = Values::of(&draft.content);
    let errors = problems_of(&page, &draft.content).await?;
    let editor = Editor { values: &values, errors, status: StatusCode::OK, outcome: outcome.message(), conflict: None };
    editor_page(&page, &admin, &slug, &draft, editor).await
}

pub async fn save(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let draft = load_draft(&page, &slug).await?;
    let (values, version) = Values::from_form(&fields);
    let version = version.ok_or(AppError::BadRequest("the editor always sends the draft's version"))?;
    let content = match values.content(&draft.content) {
        Ok(content) => content,
        Err(unreadable) => {
            let errors =
                unreadable.into_iter().map(|(at, key)| (at, page.text(&crate::i18n::Text::new(key)))).collect();
            let editor = Editor {
                values: &values,
                errors,
                status: StatusCode::UNPROCESSABLE_ENTITY,
                outcome: None,
                conflict: None,
            };
            return editor_page(&page, &admin, &slug, &draft, editor).await;
        }
    };
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    match revisions::save_draft(&mut tx, &slug, &content, version, &admin.actor).await? {
        revisions::Saved::Saved(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/procedure/{slug}?esito=bozza-salvata")).into_response())
        }
        revisions::Saved::Conflict(theirs) => {
            tx.rollback().await?;
            let (mine, other) = (&values, Values::of(&theirs.content));
            let disagreements = disagreements(mine, &other);
            // Shown with this admin's values and the current version: saving
            // again is a deliberate choice to keep these over theirs.
            let errors = problems_of(&page, &content).await?;
            let editor = Editor {
                values: mine,
                errors,
                status: StatusCode::CONFLICT,
                outcome: None,
                conflict: Some((&theirs, disagreements)),
            };
            editor_page(&page, &admin, &slug, &theirs, editor).await
        }
    }
}

fn disagreements(mine: &Values, theirs: &Values) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for (name, _) in TEXTS {
        let (a, b) =
            (theirs.text.get(name).cloned().unwrap_or_default(), mine.text.get(name).cloned().unwrap_or_default());
        if a != b {
            out.push(Disagreement { field: name, theirs: a, yours: b });
        }
    }
    let fees = |v: &Values| v.fees.iter().map(|(l, a)| format!("{l}: {a}")).collect::<Vec<_>>().join("\n");
    for (field, a, b) in [
        ("office", theirs.office.clone(), mine.office.clone()),
        ("time_limit_days", theirs.time_limit_days.clone(), mine.time_limit_days.clone()),
        ("min_level", theirs.min_level.clone(), mine.min_level.clone()),
        ("online", theirs.online.to_string(), mine.online.to_string()),
        ("fees", fees(theirs), fees(mine)),
    ] {
        if a != b {
            out.push(Disagreement { field, theirs: a, yours: b });
        }
    }
    out
}

pub async fn preview(page: Page, _admin: Admin, headers: HeaderMap, Path(slug): Path<String>) -> AppResult<Response> {
    let draft = load_draft(&page, &slug).await?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let detail = ProcedureDetail::of_draft(&mut tx, &slug, &draft.content).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let mut context: Context = catalog::procedure_context(&page.state, &page.tenant, &headers, &detail);
    context.insert("preview_of", &slug);
    page.render("portal/procedure.html", &context)
}

#[derive(Serialize)]
struct ProblemLine {
    at: &'static str,
    message: String,
}

#[derive(Serialize)]
struct ChangeLine {
    text: String,
    /// Whether citizens' open drafts may move over it.
    fits_drafts: bool,
}

fn lines(page: &Page, changes: &[crate::procedure::revision::Change]) -> Vec<ChangeLine> {
    changes.iter().map(|c| ChangeLine { text: page.text(&c.text()), fits_drafts: c.fits_open_drafts() }).collect()
}

async fn publish_view(page: &Page, admin: &Admin, slug: &str, status: StatusCode, stale: bool) -> AppResult<Response> {
    let draft = load_draft(page, slug).await?;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    let published = revisions::published(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let old = (published.0 > 0).then_some(&published.1);
    let changes = crate::procedure::revision::changes(old, &draft.content);
    let problems: Vec<ProblemLine> =
        problems_of(page, &draft.content).await?.into_iter().map(|(at, message)| ProblemLine { at, message }).collect();
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("draft", &draft);
    context.insert("changes", &lines(page, &changes));
    context.insert("drafts_move", &crate::procedure::revision::drafts_may_move(&changes));
    context.insert("problems", &problems);
    context.insert("stale", &stale);
    page.render_with(status, "admin/publish.html", &context)
}

pub async fn publish_page(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    publish_view(&page, &admin, &slug, StatusCode::OK, false).await
}

#[derive(serde::Deserialize)]
pub struct VersionForm {
    version: i32,
}

pub async fn publish(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(form): Form<VersionForm>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft = revisions::draft(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    // What the admin read on the publish page must be what is published.
    if draft.version != form.version {
        tx.rollback().await?;
        return publish_view(&page, &admin, &slug, StatusCode::CONFLICT, true).await;
    }
    let offices = db::offices(&mut tx).await?;
    let codes: Vec<&str> = offices.iter().map(|o| o.code.as_str()).collect();
    if !draft.content.problems(&codes).is_empty() {
        tx.rollback().await?;
        return publish_view(&page, &admin, &slug, StatusCode::UNPROCESSABLE_ENTITY, false).await;
    }
    let first = draft.revision == 0;
    let published = revisions::publish(&mut tx, &slug, &draft.content, &admin.actor).await?;
    if first && published.is_some() {
        let row = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
        if !row.archived {
            db::set_lifecycle(&mut tx, &slug, true, false).await?;
        }
    }
    super::catalogue::changed(&page.state, tx).await?;
    Ok(Redirect::to(&format!("/admin/procedure/{slug}?esito=pubblicata")).into_response())
}

pub async fn discard(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    revisions::discard_draft(&mut tx, &slug, &admin.actor).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/procedure/{slug}?esito=bozza-scartata")).into_response())
}

#[derive(Serialize)]
struct HistoryLine {
    number: i32,
    published_at: chrono::DateTime<chrono::Utc>,
    published_by: String,
    cases: i64,
    changes: Vec<ChangeLine>,
}

pub async fn history(page: Page, admin: Admin, Path(slug): Path<String>) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    let revisions = revisions::history(&mut tx, &slug).await?;
    tx.commit().await?;
    let lines: Vec<HistoryLine> = revisions
        .iter()
        .map(|r| HistoryLine {
            number: r.number,
            published_at: r.published_at,
            published_by: r.published_by.clone(),
            cases: r.cases,
            changes: lines(&page, &r.changes.0),
        })
        .collect();
    let mut context = context(&page, &admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("revisions", &lines);
    page.render("admin/history.html", &context)
}

#[derive(serde::Deserialize)]
pub struct NewProcedure {
    #[serde(default)]
    title: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    office: String,
}

/// A new procedure: its address from the title, unpublished, its first draft
/// to be completed in the editor.
pub async fn create(page: Page, admin: Admin, Form(form): Form<NewProcedure>) -> AppResult<Response> {
    let title: String = form.title.trim().chars().take(200).collect();
    let slug = super::catalogue::slug_of(&title);
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let taken = db::procedure(&mut tx, &slug).await?.is_some();
    let category = db::category(&mut tx, &form.category).await?;
    let offices = db::offices(&mut tx).await?;
    let error = if title.is_empty() || !is_valid_slug(&slug) {
        Some(("title", "admin.check.title_empty"))
    } else if taken {
        Some(("title", "admin.check.procedure_taken"))
    } else if category.is_none() {
        Some(("procedure-category", "admin.check.category_unknown"))
    } else if !offices.iter().any(|o| o.code == form.office) {
        Some(("procedure-office", "admin.check.office_unknown"))
    } else {
        None
    };
    if let Some(error) = error {
        tx.rollback().await?;
        let refused =
            super::catalogue::Refused { procedure_title: title, procedure_error: Some(error), ..Default::default() };
        return super::catalogue::tree_page(&page, &admin, None, refused).await;
    }
    let content = ProcedureContent {
        title,
        summary: String::new(),
        description: String::new(),
        audience: String::new(),
        how_to: String::new(),
        required_documents: Vec::new(),
        costs: String::new(),
        fees: Vec::new(),
        office: form.office.clone(),
        officer: String::new(),
        time_limit_days: 30,
        calendar_text: String::new(),
        legal_basis: Vec::new(),
        outcome: String::new(),
        conditions: String::new(),
        keywords: Vec::new(),
        online: true,
        min_level: 2,
        contacts: String::new(),
        form: None,
        workflow: None,
    };
    revisions::create(&mut tx, &slug, &form.category, &content).await?;
    crate::audit::append(
        &mut tx,
        &admin.actor,
        crate::audit::Change {
            action: "procedure.create",
            object_type: "procedure",
            object_id: slug.clone(),
            before: None,
            after: Some(serde_json::json!({ "category": form.category, "sha256": revisions::digest(&content) })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/procedure/{slug}?esito=procedura-creata")).into_response())
}

/// Saves `content` as the draft of `slug` if nobody saved it since `version`;
/// otherwise leaves the draft as it is and says who did and when (the form
/// builder's and the workflow editor's conflict message).
pub(super) async fn save_content(
    page: &Page,
    admin: &Admin,
    slug: &str,
    content: &crate::procedure::revision::ProcedureContent,
    version: i32,
) -> AppResult<Result<(), crate::i18n::Text>> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    match revisions::save_draft(&mut tx, slug, content, version, &admin.actor).await? {
        revisions::Saved::Saved(_) => {
            tx.commit().await?;
            Ok(Ok(()))
        }
        revisions::Saved::Conflict(theirs) => {
            tx.rollback().await?;
            Ok(Err(crate::i18n::Text::new("admin.form.conflict")
                .with("who", theirs.updated_by.clone().unwrap_or_default())
                .with("when", theirs.updated_at.map(crate::time::format_rome_datetime).unwrap_or_default())))
        }
    }
}
