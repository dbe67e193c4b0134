//! The form builder: a procedure draft's steps and fields, edited without
//! JavaScript. Every edit makes a whole new form and runs the loader's own
//! check on it (`FormSpec::problem`): a form the loader would refuse is never
//! saved, and the message is shown next to the field (or step) it is about.
//! A field's key is made from its label when it is created and never changes
//! afterwards: it is the field's identifier across revisions (answers are kept
//! by it when a citizen's draft moves to a new revision).

use std::collections::BTreeMap;

use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use serde::{Deserialize, Serialize};

use super::{catalogue::Outcome, context, db, Admin, Section};
use crate::{
    auth::page::Page,
    catalog::revisions::{self, Draft},
    db::TenantTx,
    error::{AppError, AppResult},
    i18n::Text,
    procedure::form::{
        step_view, Answers, ChoiceSpec, Expected, FieldErrors, FieldSpec, FieldType, FormProblem, FormSpec, PrefillKey,
        ShowIf, StepSpec, DEFAULT_MAX_MB, KNOWN_EXTENSIONS,
    },
};

/// Every type the forms engine has, in the order the builder offers them.
const TYPES: &[FieldType] = &[
    FieldType::Text,
    FieldType::Textarea,
    FieldType::Number,
    FieldType::Date,
    FieldType::Email,
    FieldType::Phone,
    FieldType::FiscalCode,
    FieldType::VatNumber,
    FieldType::Iban,
    FieldType::Address,
    FieldType::Select,
    FieldType::Checkbox,
    FieldType::File,
    FieldType::Group,
];

const PREFILLS: &[(&str, PrefillKey)] = &[
    ("given_name", PrefillKey::GivenName),
    ("family_name", PrefillKey::FamilyName),
    ("full_name", PrefillKey::FullName),
    ("fiscal_code", PrefillKey::FiscalCode),
    ("email", PrefillKey::Email),
    ("mobile", PrefillKey::Mobile),
    ("birth_date", PrefillKey::BirthDate),
    ("birth_place", PrefillKey::BirthPlace),
    ("address", PrefillKey::Address),
];

fn type_of(name: &str) -> Option<FieldType> {
    TYPES.iter().copied().find(|t| t.as_str() == name)
}

/// The draft's form: its own, or the generic one it would otherwise use (the
/// first edit makes that a form of its own).
fn form_of(page: &Page, draft: &Draft) -> (FormSpec, bool) {
    match &draft.content.form {
        Some(form) => (form.clone(), false),
        None => (FormSpec::generic(page.state.renderer.catalogues(), "it"), true),
    }
}

/// Where a field sits: step, index in the step, and its group's index if it is a row field.
fn locate(form: &FormSpec, key: &str) -> Option<(usize, usize, Option<usize>)> {
    for (s, step) in form.steps.iter().enumerate() {
        for (i, field) in step.fields.iter().enumerate() {
            if field.key == key {
                return Some((s, i, None));
            }
            if let Some(j) = field.fields.iter().position(|f| f.key == key) {
                return Some((s, i, Some(j)));
            }
        }
    }
    None
}

fn field_mut<'a>(form: &'a mut FormSpec, key: &str) -> Option<&'a mut FieldSpec> {
    let (s, i, j) = locate(form, key)?;
    let field = &mut form.steps[s].fields[i];
    Some(match j {
        Some(j) => &mut field.fields[j],
        None => field,
    })
}

/// A key for a new field from its label: lowercase ASCII with `_`, unique in the form.
fn key_for(form: &FormSpec, label: &str) -> String {
    let mut base = super::catalogue::slug_of(label).replace('-', "_");
    base.truncate(34);
    let base = base.trim_end_matches('_').to_string();
    let base = if base.starts_with(|c: char| c.is_ascii_lowercase()) { base } else { format!("campo_{base}") };
    let mut key = base.clone();
    let mut n = 2;
    while locate(form, &key).is_some() || key == "csrf_token" {
        key = format!("{base}_{n}");
        n += 1;
    }
    key
}

#[derive(Serialize)]
struct FieldLine {
    key: String,
    label: String,
    kind: &'static str,
    required: bool,
    condition: Option<String>,
    first: bool,
    last: bool,
    /// Row fields of a group.
    fields: Vec<FieldLine>,
}

fn lines(fields: &[FieldSpec]) -> Vec<FieldLine> {
    let n = fields.len();
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| FieldLine {
            key: f.key.clone(),
            label: f.label.clone(),
            kind: f.kind.as_str(),
            required: f.required,
            condition: f.show_if.as_ref().map(|c| c.field.clone()),
            first: i == 0,
            last: i + 1 == n,
            fields: lines(&f.fields),
        })
        .collect()
}

#[derive(Serialize)]
struct StepLine {
    number: usize,
    title: String,
    intro: String,
    fields: Vec<FieldLine>,
}

/// A refusal to show on the builder: the message and where it belongs.
struct Refusal {
    problem: FormProblem,
    status: StatusCode,
}

async fn load(page: &Page, slug: &str) -> AppResult<Draft> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft = revisions::draft(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(draft)
}

async fn builder_page(
    page: &Page,
    admin: &Admin,
    slug: &str,
    (form, generic): (&FormSpec, bool),
    draft: &Draft,
    outcome: Option<&'static str>,
    refusal: Option<Refusal>,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let steps: Vec<StepLine> = form
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| StepLine {
            number: i + 1,
            title: s.title.clone(),
            intro: s.intro.clone(),
            fields: lines(&s.fields),
        })
        .collect();
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("draft", draft);
    context.insert("steps", &steps);
    context.insert("generic", &generic);
    context.insert("types", &TYPES.iter().map(|t| t.as_str()).collect::<Vec<_>>());
    context.insert("outcome", &outcome);
    context.insert("refused_step", &None::<usize>);
    context.insert("refused_field", &None::<String>);
    context.insert("refusal", &None::<String>);
    let status = match &refusal {
        Some(r) => {
            context.insert("refused_step", &r.problem.step.map(|s| s + 1));
            context.insert("refused_field", &r.problem.field);
            context.insert("refusal", &page.text(&r.problem.message));
            r.status
        }
        None => StatusCode::OK,
    };
    page.render_with(status, "admin/form.html", &context)
}

pub async fn builder(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Query(outcome): Query<Outcome>,
) -> AppResult<Response> {
    let draft = load(&page, &slug).await?;
    let (form, generic) = form_of(&page, &draft);
    builder_page(&page, &admin, &slug, (&form, generic), &draft, outcome.message(), None).await
}

/// Saves `form` as the draft's if the loader's check passes and nobody saved
/// since `version`; otherwise says why (422 with the problem, 409 on a race).
async fn save_form(
    page: &Page,
    admin: &Admin,
    slug: &str,
    draft: &Draft,
    form: Option<FormSpec>,
    version: i32,
) -> AppResult<Result<(), Refusal>> {
    if let Some(problem) = form.as_ref().and_then(FormSpec::problem) {
        return Ok(Err(Refusal { problem, status: StatusCode::UNPROCESSABLE_ENTITY }));
    }
    let mut content = draft.content.clone();
    content.form = form;
    Ok(super::procedures::save_content(page, admin, slug, &content, version).await?.map_err(|message| Refusal {
        problem: FormProblem { step: None, field: None, message },
        status: StatusCode::CONFLICT,
    }))
}

/// One edit of the structure (`action`), from the builder's buttons.
#[derive(Deserialize)]
pub struct StructureForm {
    version: i32,
    action: String,
    #[serde(default)]
    step: usize,
    #[serde(default)]
    key: String,
    #[serde(default)]
    to_step: usize,
    #[serde(default)]
    title: String,
    #[serde(default)]
    intro: String,
}

pub async fn edit_structure(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(input): Form<StructureForm>,
) -> AppResult<Response> {
    let draft = load(&page, &slug).await?;
    let (mut form, generic) = form_of(&page, &draft);
    let steps = form.steps.len();
    // Steps are numbered from 1 in the page.
    let step = input.step.checked_sub(1).filter(|s| *s < steps);
    let outcome = match input.action.as_str() {
        "generic" => {
            let saved = save_form(&page, &admin, &slug, &draft, None, input.version).await?;
            return finish(&page, &admin, &slug, &form, generic, &draft, saved, "modulo-generico").await;
        }
        "step_up" | "step_down" => {
            let s = step.ok_or(AppError::BadRequest("no such step"))?;
            let to = if input.action == "step_up" { s.checked_sub(1) } else { Some(s + 1).filter(|t| *t < steps) };
            if let Some(to) = to {
                form.steps.swap(s, to);
            }
            "modulo-salvato"
        }
        "remove_step" => {
            form.steps.remove(step.ok_or(AppError::BadRequest("no such step"))?);
            "modulo-salvato"
        }
        "edit_step" => {
            let s = step.ok_or(AppError::BadRequest("no such step"))?;
            form.steps[s].title = input.title.trim().chars().take(200).collect();
            form.steps[s].intro = input.intro.trim().chars().take(2000).collect();
            "modulo-salvato"
        }
        "field_up" | "field_down" => {
            let (s, i, j) = locate(&form, &input.key).ok_or(AppError::NotFound)?;
            let up = input.action == "field_up";
            let list = match j {
                Some(_) => &mut form.steps[s].fields[i].fields,
                None => &mut form.steps[s].fields,
            };
            let at = j.unwrap_or(i);
            let to = if up { at.checked_sub(1) } else { Some(at + 1).filter(|t| *t < list.len()) };
            if let Some(to) = to {
                list.swap(at, to);
            }
            "modulo-salvato"
        }
        "move_field" => {
            let (s, i, j) = locate(&form, &input.key).ok_or(AppError::NotFound)?;
            let to = input.to_step.checked_sub(1).filter(|t| *t < steps).ok_or(AppError::BadRequest("no such step"))?;
            if j.is_some() {
                return Err(AppError::BadRequest("row fields move with their group"));
            }
            if to != s {
                let field = form.steps[s].fields.remove(i);
                form.steps[to].fields.push(field);
            }
            "modulo-salvato"
        }
        "remove_field" => {
            let (s, i, j) = locate(&form, &input.key).ok_or(AppError::NotFound)?;
            match j {
                Some(j) => {
                    form.steps[s].fields[i].fields.remove(j);
                }
                None => {
                    form.steps[s].fields.remove(i);
                }
            }
            "modulo-salvato"
        }
        _ => return Err(AppError::BadRequest("unknown form action")),
    };
    let saved = save_form(&page, &admin, &slug, &draft, Some(form.clone()), input.version).await?;
    finish(&page, &admin, &slug, &form, generic, &draft, saved, outcome).await
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    page: &Page,
    admin: &Admin,
    slug: &str,
    form: &FormSpec,
    generic: bool,
    draft: &Draft,
    saved: Result<(), Refusal>,
    outcome: &str,
) -> AppResult<Response> {
    match saved {
        Ok(()) => Ok(Redirect::to(&format!("/admin/procedure/{slug}/modulo?esito={outcome}")).into_response()),
        // The refused form is shown as it would have been, with the message on it.
        Err(refusal) => builder_page(page, admin, slug, (form, generic), draft, None, Some(refusal)).await,
    }
}

/// Which field the editor is about: an existing one, or a new one (its type,
/// and where it goes: a step, a new step, or a group's row).
#[derive(Deserialize, Default)]
pub struct FieldQuery {
    #[serde(default)]
    chiave: String,
    #[serde(default)]
    tipo: String,
    #[serde(default)]
    passo: usize,
    #[serde(default)]
    gruppo: String,
}

/// The field editor's inputs (every type's; those of other types are ignored).
#[derive(Serialize, Default, Clone)]
pub struct FieldInput {
    version: i32,
    /// Empty for a new field.
    key: String,
    kind: String,
    step: usize,
    group: String,
    step_title: String,
    label: String,
    hint: String,
    required: Option<String>,
    options: String,
    radio: Option<String>,
    max_length: String,
    min: String,
    max: String,
    decimals: String,
    unit: String,
    not_future: Option<String>,
    not_past: Option<String>,
    accept: Vec<String>,
    max_mb: String,
    multiple: Option<String>,
    prefill: String,
    show_if_field: String,
    show_if_values: String,
    add_label: String,
    item_label: String,
}

impl FieldInput {
    /// The editor's form body: repeated `accept` boxes make a list (which
    /// `serde_urlencoded` cannot read into a struct), the rest one value each.
    fn from_pairs(pairs: Vec<(String, String)>) -> AppResult<Self> {
        let mut input = FieldInput::default();
        let on = |v: String| Some(v).filter(|v| !v.is_empty());
        for (name, value) in pairs {
            match name.as_str() {
                "version" => input.version = value.trim().parse().map_err(|_| AppError::BadRequest("version"))?,
                "step" => input.step = value.trim().parse().map_err(|_| AppError::BadRequest("step"))?,
                "key" => input.key = value,
                "kind" => input.kind = value,
                "group" => input.group = value,
                "step_title" => input.step_title = value,
                "label" => input.label = value,
                "hint" => input.hint = value,
                "required" => input.required = on(value),
                "options" => input.options = value.replace("\r\n", "\n"),
                "radio" => input.radio = on(value),
                "max_length" => input.max_length = value,
                "min" => input.min = value,
                "max" => input.max = value,
                "decimals" => input.decimals = value,
                "unit" => input.unit = value,
                "not_future" => input.not_future = on(value),
                "not_past" => input.not_past = on(value),
                "accept" if !value.is_empty() => input.accept.push(value),
                "max_mb" => input.max_mb = value,
                "multiple" => input.multiple = on(value),
                "prefill" => input.prefill = value,
                "show_if_field" => input.show_if_field = value,
                "show_if_values" => input.show_if_values = value,
                "add_label" => input.add_label = value,
                "item_label" => input.item_label = value,
                _ => {}
            }
        }
        Ok(input)
    }

    fn of(field: &FieldSpec, step: usize, group: &str, version: i32) -> Self {
        let number = |v: Option<f64>| v.map(|v| v.to_string().replace('.', ",")).unwrap_or_default();
        FieldInput {
            version,
            key: field.key.clone(),
            kind: field.kind.as_str().to_string(),
            step,
            group: group.to_string(),
            step_title: String::new(),
            label: field.label.clone(),
            hint: field.hint.clone(),
            required: field.required.then(|| "on".into()),
            options: field.options.iter().map(|o| format!("{} | {}", o.value, o.label)).collect::<Vec<_>>().join("\n"),
            radio: field.radio.then(|| "on".into()),
            max_length: field.max_length.map(|m| m.to_string()).unwrap_or_default(),
            min: number(field.min),
            max: number(field.max),
            decimals: field.decimals.map(|d| d.to_string()).unwrap_or_default(),
            unit: field.unit.clone().unwrap_or_default(),
            not_future: field.not_future.then(|| "on".into()),
            not_past: field.not_past.then(|| "on".into()),
            accept: field.accept.clone(),
            max_mb: field.max_mb.map(|m| m.to_string()).unwrap_or_default(),
            multiple: field.multiple.then(|| "on".into()),
            prefill: field
                .prefill
                .and_then(|p| PREFILLS.iter().find(|(_, k)| *k == p))
                .map(|(n, _)| n.to_string())
                .unwrap_or_default(),
            show_if_field: field.show_if.as_ref().map(|c| c.field.clone()).unwrap_or_default(),
            show_if_values: field
                .show_if
                .as_ref()
                .map(|c| match &c.equals {
                    Some(Expected::Text(t)) => t.clone(),
                    Some(Expected::Bool(b)) => b.to_string(),
                    None => c.any_of.join(", "),
                })
                .unwrap_or_default(),
            add_label: field.add_label.clone().unwrap_or_default(),
            item_label: field.item_label.clone().unwrap_or_default(),
        }
    }

    /// The field these inputs describe, over `base` (the field as it was: its
    /// key and row fields stay), or the input that cannot be read.
    fn apply(&self, kind: FieldType, mut field: FieldSpec) -> Result<FieldSpec, (&'static str, Text)> {
        let unreadable = |input: &'static str| (input, Text::new("admin.form.not_a_number"));
        let whole = |s: &str, input: &'static str| -> Result<Option<u32>, (&'static str, Text)> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            s.parse().map(Some).map_err(|_| unreadable(input))
        };
        let decimal = |s: &str, input: &'static str| -> Result<Option<f64>, (&'static str, Text)> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            // Italian writing: "1.500,5"; a lone dot is a decimal point too.
            let s = if s.contains(',') { s.replace('.', "").replace(',', ".") } else { s.to_string() };
            s.parse().map(Some).map_err(|_| unreadable(input))
        };
        let set = |v: &Option<String>| v.is_some();
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        field.kind = kind;
        field.label = self.label.trim().chars().take(300).collect();
        field.hint = self.hint.trim().chars().take(1000).collect();
        field.required = set(&self.required);
        // Only the options of this type; the check refuses any other.
        field.max_length = None;
        field.min = None;
        field.max = None;
        field.decimals = None;
        field.unit = None;
        field.not_future = false;
        field.not_past = false;
        field.options = Vec::new();
        field.radio = false;
        field.accept = Vec::new();
        field.max_mb = None;
        field.multiple = false;
        field.add_label = None;
        field.item_label = None;
        match kind {
            FieldType::Text | FieldType::Textarea => {
                field.max_length = whole(&self.max_length, "max_length")?.map(|m| m as usize);
            }
            FieldType::Number => {
                field.min = decimal(&self.min, "min")?;
                field.max = decimal(&self.max, "max")?;
                field.decimals = whole(&self.decimals, "decimals")?;
                field.unit = text(&self.unit);
            }
            FieldType::Date => {
                field.not_future = set(&self.not_future);
                field.not_past = set(&self.not_past);
            }
            FieldType::Select => {
                field.radio = set(&self.radio);
                field.options = self
                    .options
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|line| match line.split_once('|') {
                        Some((value, label)) => {
                            ChoiceSpec { value: value.trim().to_string(), label: label.trim().to_string() }
                        }
                        None => ChoiceSpec { value: super::catalogue::slug_of(line), label: line.to_string() },
                    })
                    .collect();
            }
            FieldType::File => {
                field.accept = self.accept.iter().filter(|e| KNOWN_EXTENSIONS.contains(&e.as_str())).cloned().collect();
                field.max_mb = whole(&self.max_mb, "max_mb")?;
                field.multiple = set(&self.multiple);
            }
            FieldType::Group => {
                field.min = decimal(&self.min, "min")?;
                field.max = decimal(&self.max, "max")?;
                field.add_label = text(&self.add_label);
                field.item_label = text(&self.item_label);
            }
            _ => {}
        }
        field.prefill = PREFILLS.iter().find(|(n, _)| *n == self.prefill).map(|(_, k)| *k);
        field.show_if = match self.show_if_field.trim() {
            "" => None,
            target => {
                let values: Vec<String> =
                    self.show_if_values.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
                let equals = match values.as_slice() {
                    [one] if one == "true" || one == "false" => Some(Expected::Bool(one == "true")),
                    [one] => Some(Expected::Text(one.clone())),
                    _ => None,
                };
                let any_of = if values.len() > 1 { values } else { Vec::new() };
                Some(ShowIf { field: target.to_string(), equals, any_of })
            }
        };
        Ok(field)
    }
}

/// A field no one has written yet, of `kind`.
fn blank(kind: FieldType) -> FieldSpec {
    FieldSpec {
        key: String::new(),
        label: String::new(),
        kind,
        required: false,
        hint: String::new(),
        prefill: None,
        show_if: None,
        max_length: None,
        min: None,
        max: None,
        decimals: None,
        unit: None,
        not_future: false,
        not_past: false,
        options: Vec::new(),
        radio: false,
        accept: if kind == FieldType::File { vec!["pdf".into()] } else { Vec::new() },
        max_mb: None,
        multiple: false,
        fields: Vec::new(),
        add_label: None,
        item_label: None,
    }
}

#[derive(Serialize)]
struct Choice {
    key: String,
    label: String,
}

/// The fields a condition of this field may look at: those before it (for a
/// row field, the fields before its group and its earlier siblings). The check
/// still has the last word.
fn earlier_fields(form: &FormSpec, input: &FieldInput) -> Vec<Choice> {
    let answerable = |f: &FieldSpec| !matches!(f.kind, FieldType::Address | FieldType::File | FieldType::Group);
    let choice = |f: &FieldSpec| Choice { key: f.key.clone(), label: f.label.clone() };
    let mut out = Vec::new();
    for (s, step) in form.steps.iter().enumerate() {
        for f in &step.fields {
            if !input.key.is_empty() && f.key == input.key {
                return out;
            }
            if !input.group.is_empty() && f.key == input.group {
                out.extend(f.fields.iter().take_while(|r| r.key != input.key).filter(|r| answerable(r)).map(choice));
                return out;
            }
            if answerable(f) {
                out.push(choice(f));
            }
        }
        // A new field goes at the end of its step.
        if input.key.is_empty() && input.group.is_empty() && s + 1 >= input.step {
            return out;
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
async fn field_page(
    page: &Page,
    admin: &Admin,
    slug: &str,
    draft: &Draft,
    form: &FormSpec,
    input: &FieldInput,
    errors: BTreeMap<&'static str, String>,
    status: StatusCode,
) -> AppResult<Response> {
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let earlier = earlier_fields(form, input);
    let row_fields = form.field(&input.key).map(|g| lines(&g.fields)).unwrap_or_default();
    let mut context = context(page, admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("draft", draft);
    context.insert("input", input);
    context.insert("errors", &errors);
    context.insert("earlier", &earlier);
    context.insert("extensions", KNOWN_EXTENSIONS);
    context.insert("prefills", &PREFILLS.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    context.insert("row_fields", &row_fields);
    context.insert("default_max_mb", &DEFAULT_MAX_MB);
    context.insert("types", &TYPES.iter().map(|t| t.as_str()).collect::<Vec<_>>());
    page.render_with(status, "admin/form_field.html", &context)
}

pub async fn field_editor(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Query(q): Query<FieldQuery>,
) -> AppResult<Response> {
    let draft = load(&page, &slug).await?;
    let (form, _) = form_of(&page, &draft);
    let input = if q.chiave.is_empty() {
        let kind = type_of(&q.tipo).ok_or(AppError::BadRequest("unknown field type"))?;
        let mut input = FieldInput::of(&blank(kind), q.passo, &q.gruppo, draft.version);
        input.key.clear();
        input
    } else {
        let (s, _, j) = locate(&form, &q.chiave).ok_or(AppError::NotFound)?;
        let group = match j {
            Some(_) => {
                form.steps[s].fields.iter().find(|f| f.fields.iter().any(|r| r.key == q.chiave)).map(|g| g.key.clone())
            }
            None => None,
        };
        let field = form.field(&q.chiave).ok_or(AppError::NotFound)?;
        FieldInput::of(field, s + 1, group.as_deref().unwrap_or_default(), draft.version)
    };
    field_page(&page, &admin, &slug, &draft, &form, &input, BTreeMap::new(), StatusCode::OK).await
}

pub async fn save_field(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let input = FieldInput::from_pairs(pairs)?;
    let draft = load(&page, &slug).await?;
    let (mut form, _) = form_of(&page, &draft);
    let refuse = |errors: BTreeMap<&'static str, String>, status| {
        let (page, admin, slug, draft, form, input) = (&page, &admin, &slug, &draft, &form, &input);
        async move { field_page(page, admin, slug, draft, form, input, errors, status).await }
    };
    let new = input.key.is_empty();
    let (kind, base) = if new {
        let kind = type_of(&input.kind).ok_or(AppError::BadRequest("unknown field type"))?;
        (kind, blank(kind))
    } else {
        let field = form.field(&input.key).ok_or(AppError::NotFound)?.clone();
        (field.kind, field)
    };
    let mut field = match input.apply(kind, base) {
        Ok(field) => field,
        Err((at, message)) => {
            return refuse(BTreeMap::from([(at, page.text(&message))]), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    };
    if new {
        if field.label.is_empty() {
            let message = page.text(&Text::new("form.spec.label_empty"));
            return refuse(BTreeMap::from([("label", message)]), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        field.key = key_for(&form, &field.label);
        if kind == FieldType::Group {
            // A group needs a row field: the first one is a text named like the row.
            let mut first = blank(FieldType::Text);
            first.label = field.item_label.clone().unwrap_or_else(|| field.label.clone());
            first.key = key_for(&form, &format!("{} nome", field.key));
            field.fields.push(first);
        }
        if !input.group.is_empty() {
            let group = field_mut(&mut form, &input.group).ok_or(AppError::NotFound)?;
            group.fields.push(field.clone());
        } else if input.step == form.steps.len() + 1 {
            let title = input.step_title.trim().to_string();
            form.steps.push(StepSpec { title, intro: String::new(), fields: vec![field.clone()] });
        } else {
            let step = input
                .step
                .checked_sub(1)
                .filter(|s| *s < form.steps.len())
                .ok_or(AppError::BadRequest("no such step"))?;
            form.steps[step].fields.push(field.clone());
        }
    } else {
        *field_mut(&mut form, &input.key).ok_or(AppError::NotFound)? = field.clone();
    }
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let draft_now = revisions::draft(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    match save_form(&page, &admin, &slug, &draft_now, Some(form.clone()), input.version).await? {
        Ok(()) => Ok(Redirect::to(&format!("/admin/procedure/{slug}/modulo?esito=campo-salvato#campo-{}", field.key))
            .into_response()),
        Err(refusal) => {
            // Next to the input the problem is about: the options of a select, the
            // formats of a file, the condition… or the label.
            let input_name = match refusal.problem.message.key.as_ref() {
                "form.spec.select_no_options" | "form.spec.option_incomplete" | "form.spec.option_twice" => "options",
                "form.spec.file_no_accept" | "form.spec.file_extension" => "accept",
                "form.spec.max_mb" => "max_mb",
                "form.spec.min_over_max" | "form.spec.group_rows" | "form.spec.group_max_zero" => "min",
                "form.spec.decimals" => "decimals",
                "form.spec.max_length" => "max_length",
                "form.spec.only_today" => "not_future",
                "form.spec.prefill_type" | "form.spec.prefill_in_group" => "prefill",
                k if k.starts_with("form.spec.show_if") => "show_if_field",
                "form.spec.step_title" => "step_title",
                "admin.form.conflict" => "form",
                _ => "label",
            };
            let about_this_field = refusal.problem.field.as_deref().is_none_or(|k| k == field.key);
            let message = if about_this_field {
                page.text(&refusal.problem.message)
            } else {
                // Changing this field broke another (a condition that pointed to it).
                let other = refusal.problem.field.clone().unwrap_or_default();
                let label = form.field(&other).map(|f| f.label.clone()).unwrap_or(other);
                page.text(
                    &Text::new("admin.form.breaks_other")
                        .with("label", label)
                        .with_text("detail", refusal.problem.message),
                )
            };
            let mut shown = input.clone();
            shown.version = draft_now.version;
            let errors = BTreeMap::from([(if about_this_field { input_name } else { "label" }, message)]);
            let (page, admin, slug, form) = (&page, &admin, &slug, &form);
            field_page(page, admin, slug, &draft_now, form, &shown, errors, refusal.status).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct PreviewQuery {
    #[serde(default)]
    passo: usize,
}

/// The draft's form as the citizen will see it, one step at a time.
pub async fn preview(
    page: Page,
    admin: Admin,
    Path(slug): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> AppResult<Response> {
    let draft = load(&page, &slug).await?;
    let (form, _) = form_of(&page, &draft);
    let step = q.passo.max(1).min(form.steps.len().max(1)) - 1;
    let mut tx = TenantTx::begin(&page.state.db, page.tenant.0.id).await?;
    let row = db::procedure(&mut tx, &slug).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let mut context = context(&page, &admin, Section::Catalogue);
    context.insert("procedure", &row);
    context.insert("step", &step_view(&form, step, &Answers::new(), &FieldErrors::default()));
    context.insert("step_number", &(step + 1));
    context.insert("step_count", &form.steps.len());
    context.insert("title", &draft.content.title);
    page.render("admin/form_preview.html", &context)
}
