//! The view models the templates render: a step of the form with its fields, their
//! labels, hints, errors and conditions, computed here so that templates stay dumb.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    answers::{html_id, visible, Answers, FieldErrors},
    checks::{or_list, short, WithArg},
    numbers::parse_canonical_number,
    spec::{Expected, FieldSpec, FieldType, FormSpec, PrefillKey, ShowIf, StepSpec, ADDRESS_PARTS},
};
use crate::i18n::{Arg, Catalogues, Text};

/// Words on a page: as the ente wrote them in the form (a label, a hint), or a
/// message of the catalogues. Templates show both with `| tr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Words {
    Given(String),
    Said(Text),
}

impl Default for Words {
    fn default() -> Self {
        Words::Given(String::new())
    }
}

impl Words {
    pub fn is_empty(&self) -> bool {
        matches!(self, Words::Given(s) if s.is_empty())
    }

    /// The words in `lang` (given words are shown as they are).
    pub fn text(&self, catalogues: &Catalogues, lang: &str) -> String {
        match self {
            Words::Given(s) => s.clone(),
            Words::Said(t) => catalogues.text(lang, t),
        }
    }
}

impl From<Text> for Words {
    fn from(text: Text) -> Self {
        Words::Said(text)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// 0-based.
    pub index: usize,
    /// 1-based, for "Passo 2 di 4".
    pub number: usize,
    pub count: usize,
    pub title: String,
    pub intro: String,
    pub is_first: bool,
    pub is_last: bool,
    /// Every step, for the step indicator.
    pub steps: Vec<StepLink>,
    pub fields: Vec<FieldView>,
    /// The errors of this step, in field order, for the summary at the top.
    pub errors: Vec<ErrorLink>,
    /// Whether this step has file inputs.
    pub has_files: bool,
    /// Whether this step has a repeatable group (its add/remove buttons are submit buttons).
    pub has_groups: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepLink {
    pub number: usize,
    pub title: String,
    pub current: bool,
    pub done: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorLink {
    /// The id of the input, for `href="#..."`.
    pub id: String,
    pub message: Text,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
    /// The radio input's id.
    pub id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FieldView {
    pub key: String,
    /// The `name` attribute.
    pub name: String,
    pub id: String,
    pub label: Words,
    /// The field type (`text`, `select`, `group`, …); `part` for an address part.
    #[serde(rename = "type")]
    pub kind: String,
    /// The `type` attribute of an `<input>`: text, email, tel, date.
    pub input_type: String,
    pub inputmode: String,
    pub autocomplete: String,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub hint: Words,
    pub hint_id: String,
    pub error: Option<Text>,
    pub error_id: String,
    /// `aria-describedby`: hint and error ids (empty: leave the attribute out).
    pub describedby: String,
    pub maxlength: usize,
    pub unit: String,
    pub options: Vec<OptionView>,
    pub radio: bool,
    /// Address: street, number, cap, municipality, province.
    pub parts: Vec<FieldView>,
    /// Group.
    pub rows: Vec<RowView>,
    pub rows_name: String,
    pub row_count: usize,
    pub can_add: bool,
    pub add_action: String,
    pub add_label: Words,
    /// File: `.pdf,.p7m`; and "PDF, P7M".
    pub accept: String,
    pub accept_human: String,
    pub multiple: bool,
    pub max_mb: u32,
    /// The controlling input's name (empty: always shown). The field is rendered
    /// anyway when its controller is on the same page, for the script to toggle.
    pub show_if_name: String,
    /// JSON array of the values that show it (empty array: any answer / ticked).
    pub show_if_values: String,
    /// Whether it is shown given the answers so far.
    pub visible: bool,
    /// "Da compilare solo se …": for people without the script.
    pub condition: Option<Text>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowView {
    pub index: usize,
    pub number: usize,
    pub legend: String,
    pub id: String,
    pub fields: Vec<FieldView>,
    pub can_remove: bool,
    pub remove_action: String,
}

/// What a step template needs, computed here so that templates stay dumb.
pub fn step_view(spec: &FormSpec, step: usize, answers: &Answers, errors: &FieldErrors) -> StepView {
    let count = spec.steps.len();
    let step = step.min(count.saturating_sub(1));
    let empty = StepSpec { title: String::new(), intro: String::new(), fields: Vec::new() };
    // A checked form has steps; an unchecked empty one renders as an empty step.
    let s = spec.steps.get(step).unwrap_or(&empty);
    let same_step: HashSet<&str> = s.fields.iter().map(|f| f.key.as_str()).collect();
    let ctx = ViewContext { spec, top: &answers.0, errors };
    let mut fields = Vec::new();
    for f in &s.fields {
        let shown = visible(f, None, &answers.0);
        let controller_here = f.show_if.as_ref().is_some_and(|c| same_step.contains(c.field.as_str()));
        if !shown && !controller_here {
            continue;
        }
        fields.push(field_view(&ctx, f, &f.key, answers.0.get(&f.key), None, controller_here, shown));
    }
    let mut error_list = Vec::new();
    for f in &fields {
        collect_errors(f, &mut error_list);
    }
    StepView {
        index: step,
        number: step + 1,
        count,
        title: s.title.clone(),
        intro: s.intro.clone(),
        is_first: step == 0,
        is_last: step + 1 == count,
        steps: spec
            .steps
            .iter()
            .enumerate()
            .map(|(i, st)| StepLink { number: i + 1, title: st.title.clone(), current: i == step, done: i < step })
            .collect(),
        has_files: s.fields.iter().any(|f| f.kind == FieldType::File),
        has_groups: s.fields.iter().any(|f| f.kind == FieldType::Group),
        fields,
        errors: error_list,
    }
}

fn collect_errors(f: &FieldView, out: &mut Vec<ErrorLink>) {
    if let Some(error) = &f.error {
        let id = if f.kind == "select" && f.radio {
            f.options.first().map(|o| o.id.clone()).unwrap_or_else(|| f.id.clone())
        } else {
            f.id.clone()
        };
        out.push(ErrorLink { id, message: error.clone() });
    }
    for p in &f.parts {
        collect_errors(p, out);
    }
    for r in &f.rows {
        for sub in &r.fields {
            collect_errors(sub, out);
        }
    }
}

fn describedby(hint_id: &str, error_id: &str) -> String {
    [hint_id, error_id].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ")
}

/// What every field's view reads besides the field itself: the form (a condition may
/// point to a field elsewhere), all the answers (a row's field may depend on a
/// step-level one), and the errors.
struct ViewContext<'a> {
    spec: &'a FormSpec,
    top: &'a Map<String, Value>,
    errors: &'a FieldErrors,
}

/// The group row a field sits in: the prefix of its names (`key.0`) and the group.
#[derive(Clone, Copy)]
struct InRow<'a> {
    prefix: &'a str,
    group: &'a FieldSpec,
}

/// One field named `name` holding `value`. `conditional`: its controller is on this
/// page, so it is rendered for the script to toggle; `shown`: whether the answers so
/// far show it.
fn field_view(
    ctx: &ViewContext,
    f: &FieldSpec,
    name: &str,
    value: Option<&Value>,
    row: Option<InRow>,
    conditional: bool,
    shown: bool,
) -> FieldView {
    let mut v = base_view(f, name, ctx.errors, shown);
    if let (true, Some(cond)) = (conditional, &f.show_if) {
        wire_condition(&mut v, ctx.spec, cond, row);
    }
    match f.kind {
        FieldType::Select => choice_view(&mut v, f, value),
        FieldType::Checkbox => checkbox_view(&mut v, value),
        FieldType::File => file_view(&mut v, f),
        FieldType::Address => address_view(&mut v, f, name, value, ctx.errors),
        FieldType::Group => group_view(&mut v, ctx, f, name, value),
        FieldType::Text
        | FieldType::Textarea
        | FieldType::Number
        | FieldType::Date
        | FieldType::Email
        | FieldType::Phone
        | FieldType::FiscalCode
        | FieldType::VatNumber
        | FieldType::Iban => text_view(&mut v, f, value),
    }
    v
}

/// What every kind has: names and ids, the label, the hint and the error wired to the
/// input by `aria-describedby`.
fn base_view(f: &FieldSpec, name: &str, errors: &FieldErrors, shown: bool) -> FieldView {
    let id = html_id(name);
    let error = errors.get(name).cloned();
    let hint = hint_text(f);
    let hint_id = if hint.is_empty() { String::new() } else { format!("{id}-hint") };
    let error_id = if error.is_none() { String::new() } else { format!("{id}-error") };
    FieldView {
        key: f.key.clone(),
        name: name.to_string(),
        id,
        label: Words::Given(f.label.clone()),
        kind: f.kind.as_str().to_string(),
        // The `<input>` default; the text-like kinds refine it.
        input_type: "text".to_string(),
        autocomplete: f.prefill.map(|p| p.autocomplete().to_string()).unwrap_or_default(),
        required: f.required,
        describedby: describedby(&hint_id, &error_id),
        hint,
        hint_id,
        error,
        error_id,
        visible: shown,
        ..FieldView::default()
    }
}

/// The spec's hint; a file field also tells the formats and the size it takes, a
/// date how to type it.
fn hint_text(f: &FieldSpec) -> Words {
    let formats = |key: &'static str| Text::new(key).with("formats", f.accept_human()).with("max", f.max_mb());
    match f.kind {
        FieldType::File if f.hint.is_empty() => {
            formats(if f.multiple { "form.hint.file_each" } else { "form.hint.file" }).into()
        }
        FieldType::File => formats("form.hint.file_with_hint").with("hint", &f.hint).into(),
        FieldType::Date if f.hint.is_empty() => Text::new("form.hint.date").into(),
        _ => Words::Given(f.hint.clone()),
    }
}

/// The controlling input's name (in a row: the row's own input when the controller
/// is a sibling), the values that show the field, and the sentence for people
/// without the script.
fn wire_condition(v: &mut FieldView, spec: &FormSpec, cond: &ShowIf, row: Option<InRow>) {
    v.show_if_name = match row {
        Some(InRow { prefix, group }) if group.fields.iter().any(|s| s.key == cond.field) => {
            format!("{prefix}.{}", cond.field)
        }
        _ => cond.field.clone(),
    };
    v.show_if_values = serde_json::to_string(&cond.values()).unwrap_or_else(|_| "[]".into());
    v.condition = condition_text(spec, cond);
}

fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Text, textarea, number, date and the identifiers: one input, typed for the
/// keyboard it wants; a stored number is shown with its decimal comma.
fn text_view(v: &mut FieldView, f: &FieldSpec, value: Option<&Value>) {
    let text = text_of(value);
    let (input_type, inputmode) = match f.kind {
        FieldType::Email => ("email", "email"),
        FieldType::Phone => ("tel", "tel"),
        FieldType::Date => ("date", ""),
        FieldType::Number if f.decimals == Some(0) && f.min.is_some_and(|m| m >= 0.0) => ("text", "numeric"),
        FieldType::Number => ("text", "decimal"),
        _ => ("text", ""),
    };
    v.input_type = input_type.to_string();
    v.inputmode = inputmode.to_string();
    v.value = if f.kind == FieldType::Number && !text.is_empty() && parse_canonical_number(&text).is_some() {
        text.replace('.', ",")
    } else {
        text
    };
    v.maxlength = if matches!(f.kind, FieldType::Text | FieldType::Textarea) { f.max_length() } else { 0 };
    v.unit = f.unit.clone().unwrap_or_default();
    if v.autocomplete.is_empty() && matches!(f.kind, FieldType::FiscalCode | FieldType::Iban | FieldType::VatNumber) {
        v.autocomplete = "off".into();
    }
}

/// A select or radio buttons: the options, the chosen one selected.
fn choice_view(v: &mut FieldView, f: &FieldSpec, value: Option<&Value>) {
    v.value = text_of(value);
    v.radio = f.radio;
    v.options = f
        .options
        .iter()
        .enumerate()
        .map(|(i, o)| OptionView {
            value: o.value.clone(),
            label: o.label.clone(),
            selected: v.value == o.value,
            id: format!("{}-{i}", v.id),
        })
        .collect();
}

fn checkbox_view(v: &mut FieldView, value: Option<&Value>) {
    v.checked = matches!(value, Some(Value::Bool(true)));
}

fn file_view(v: &mut FieldView, f: &FieldSpec) {
    v.accept = f.accept_attr();
    v.accept_human = f.accept_human();
    v.multiple = f.multiple;
    v.max_mb = f.max_mb();
}

/// An address: one input per part, each with its own name, error and `autocomplete`
/// token (only when the address is the citizen's own).
fn address_view(v: &mut FieldView, f: &FieldSpec, name: &str, value: Option<&Value>, errors: &FieldErrors) {
    let parts = value.and_then(Value::as_object);
    let prefilled = f.prefill == Some(PrefillKey::Address);
    v.parts = ADDRESS_PARTS
        .iter()
        .map(|(part, label, autocomplete)| {
            let pname = format!("{name}.{part}");
            let pid = html_id(&pname);
            let error = errors.get(&pname).cloned();
            let error_id = if error.is_none() { String::new() } else { format!("{pid}-error") };
            let hint =
                if *part == "number" { Words::Said(Text::new("form.hint.street_number")) } else { Words::default() };
            let hint_id = if hint.is_empty() { String::new() } else { format!("{pid}-hint") };
            FieldView {
                key: part.to_string(),
                name: pname,
                id: pid,
                label: Words::Said(Text::new(*label)),
                kind: "part".into(),
                input_type: "text".into(),
                inputmode: if *part == "cap" { "numeric".into() } else { String::new() },
                autocomplete: if prefilled { autocomplete.to_string() } else { "off".into() },
                value: parts.and_then(|p| p.get(*part)).and_then(Value::as_str).unwrap_or_default().to_string(),
                required: f.required,
                describedby: describedby(&hint_id, &error_id),
                hint,
                hint_id,
                error,
                error_id,
                maxlength: match *part {
                    "cap" => 5,
                    "province" => 2,
                    "number" => 12,
                    _ => 120,
                },
                visible: true,
                ..FieldView::default()
            }
        })
        .collect();
}

/// A repeatable group: its rows (at least `min`, empty ones included) and the add
/// and remove buttons within its bounds.
fn group_view(v: &mut FieldView, ctx: &ViewContext, f: &FieldSpec, name: &str, value: Option<&Value>) {
    let empty = Vec::new();
    let rows = value.and_then(Value::as_array).unwrap_or(&empty);
    let count = rows.len().max(f.group_min());
    let empty_row = Map::new();
    v.rows = (0..count)
        .map(|i| row_view(ctx, f, name, i, rows.get(i).and_then(Value::as_object).unwrap_or(&empty_row), count))
        .collect();
    v.required = f.group_min() > 0;
    v.row_count = count;
    v.rows_name = format!("{name}._rows");
    v.can_add = count < f.group_max();
    v.add_action = format!("add:{}", f.key);
    v.add_label = match (&f.add_label, &f.item_label) {
        (Some(label), _) => Words::Given(label.clone()),
        (None, Some(item)) => Text::new("form.group.add_item").with("item", item.to_lowercase()).into(),
        (None, None) => Text::new("form.group.add").into(),
    };
}

/// Row `i` of `group` (of `count` rows), holding the answers `r`. A field whose
/// controller is a sibling or a step-level field of the same step is rendered even
/// when hidden, for the script to toggle.
fn row_view(
    ctx: &ViewContext,
    group: &FieldSpec,
    name: &str,
    i: usize,
    r: &Map<String, Value>,
    count: usize,
) -> RowView {
    let siblings: HashSet<&str> = group.fields.iter().map(|s| s.key.as_str()).collect();
    let group_step = ctx.spec.locate(&group.key).map(|l| l.step);
    let prefix = format!("{name}.{i}");
    let fields = group
        .fields
        .iter()
        .filter_map(|sub| {
            let shown = visible(sub, Some(r), ctx.top);
            let here = sub.show_if.as_ref().is_some_and(|c| {
                siblings.contains(c.field.as_str())
                    || ctx.spec.locate(&c.field).is_some_and(|l| Some(l.step) == group_step && l.group.is_none())
            });
            (shown || here).then(|| {
                let in_row = InRow { prefix: &prefix, group };
                field_view(ctx, sub, &format!("{prefix}.{}", sub.key), r.get(&sub.key), Some(in_row), here, shown)
            })
        })
        .collect();
    RowView {
        index: i,
        number: i + 1,
        legend: group.row_legend(i),
        id: html_id(&prefix),
        fields,
        can_remove: count > group.group_min(),
        remove_action: format!("remove:{}:{i}", group.key),
    }
}

/// "Da compilare solo se …": the condition in words, for people without the script.
fn condition_text(spec: &FormSpec, cond: &ShowIf) -> Option<Text> {
    let target = spec.field(&cond.field)?;
    let label_of = |v: &str| {
        target.options.iter().find(|o| o.value == v).map(|o| o.label.clone()).unwrap_or_else(|| v.to_string())
    };
    let quoted = |v: &str| Text::new("form.quote.value").with("value", label_of(v));
    Some(match (&cond.equals, target.kind) {
        (Some(Expected::Bool(true)) | None, FieldType::Checkbox) => {
            Text::new("form.condition.ticked").with("label", short(&target.label))
        }
        (Some(Expected::Bool(false)), _) => Text::new("form.condition.not_ticked").with("label", short(&target.label)),
        (Some(Expected::Text(t)), _) => {
            Text::new("form.condition.answered").with("label", &target.label).with("answer", label_of(t))
        }
        (None, _) if !cond.any_of.is_empty() => {
            let answers = cond.any_of.iter().map(|v| Arg::Text(quoted(v))).collect();
            Text::new("form.condition.answered_any").with("label", &target.label).with_arg("answers", or_list(answers))
        }
        (None, _) => Text::new("form.condition.filled").with("label", &target.label),
        (Some(Expected::Bool(true)), _) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::test_support::*;

    #[test]
    fn the_step_view_wires_labels_hints_and_errors() {
        let spec = form(ACCESS);
        let answers = Answers::from_value(serde_json::json!({ "per_conto": "proprio" }));
        let mut errors = FieldErrors::default();
        errors.add("cf", Text::new("form.check.fiscal_code"));
        errors.add("per_conto", Text::new("form.check.select_required").with("label", "Presenti la richiesta"));
        let view = step_view(&spec, 0, &answers, &errors);
        assert_eq!((view.number, view.count, view.is_first, view.is_last), (1, 2, true, false));
        assert!(view.has_files && !view.has_groups);
        assert!(view.steps[0].current && !view.steps[1].current);
        let keys: Vec<&str> = view.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["nome", "cf", "per_conto", "delegante", "delega"], "same-step conditions are rendered");
        let cf = &view.fields[1];
        assert_eq!(
            (cf.id.as_str(), cf.error_id.as_str(), cf.describedby.as_str()),
            ("f-cf", "f-cf-error", "f-cf-error")
        );
        assert_eq!(cf.autocomplete, "off");
        assert_eq!(view.fields[0].autocomplete, "name");
        let radio = &view.fields[2];
        assert!(radio.radio && radio.options[0].selected && !radio.options[1].selected);
        assert_eq!(radio.options[1].id, "f-per_conto-1");
        let delega = &view.fields[4];
        assert!(!delega.visible);
        assert_eq!(delega.show_if_name, "per_conto");
        assert_eq!(delega.show_if_values, r#"["altri"]"#);
        assert_eq!(
            it(delega.condition.as_ref().unwrap()),
            "Da compilare solo se in «Presenti la richiesta» hai risposto «Per conto di altri»."
        );
        assert_eq!(delega.accept, ".pdf,.p7m");
        let Words::Said(hint) = &delega.hint else { panic!("{:?}", delega.hint) };
        assert!(it(hint).contains("PDF, P7M") && delega.describedby == "f-delega-hint");
        let summary_ids: Vec<&str> = view.errors.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(summary_ids, ["f-cf", "f-per_conto-0"], "in field order; radios link their first input");

        // A field whose condition sits on an earlier step is left out when hidden.
        let spec2 = form(
            r#"
[[steps]]
title = "Uno"
fields = [ { key = "c", label = "C", type = "checkbox" } ]
[[steps]]
title = "Due"
fields = [ { key = "t", label = "T", type = "text", show_if = { field = "c", equals = true } }, { key = "n", label = "N", type = "number", unit = "€" } ]
"#,
        );
        let answers = Answers::from_value(serde_json::json!({ "c": false, "n": "1500.5" }));
        let view = step_view(&spec2, 1, &answers, &FieldErrors::default());
        assert_eq!(view.fields.len(), 1);
        assert_eq!(view.fields[0].value, "1500,5");
        assert_eq!(view.fields[0].inputmode, "decimal");
        assert!(view.is_last);
    }

    #[test]
    fn address_and_group_views() {
        let spec = form(ACCESS);
        let answers = Answers::from_value(serde_json::json!({ "residenza": { "street": "Via Roma", "cap": "24010" } }));
        let mut errors = FieldErrors::default();
        errors.add("residenza.number", Text::new("form.check.street_number"));
        let view = step_view(&spec, 1, &answers, &errors);
        let address = view.fields.iter().find(|f| f.key == "residenza").unwrap();
        let names: Vec<&str> = address.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["residenza.street", "residenza.number", "residenza.cap", "residenza.municipality", "residenza.province"]
        );
        assert_eq!(address.parts[0].value, "Via Roma");
        assert_eq!(address.parts[0].autocomplete, "address-line1");
        assert_eq!(address.parts[1].describedby, "f-residenza-number-hint f-residenza-number-error");
        assert_eq!(view.errors[0].id, "f-residenza-number");

        let spec = form(MENSA);
        let view = step_view(&spec, 0, &Answers::default(), &FieldErrors::default());
        let group = &view.fields[0];
        assert_eq!(group.rows.len(), 1, "min = 1 shows one row");
        assert!(!group.rows[0].can_remove && group.can_add);
        assert_eq!(group.add_label, Words::Given("Aggiungi un figlio".into()));
        assert_eq!(group.rows_name, "figli._rows");
        let dieta_tipo = group.rows[0].fields.iter().find(|f| f.key == "dieta_tipo").unwrap();
        assert_eq!(dieta_tipo.show_if_name, "figli.0.dieta");
        assert_eq!(dieta_tipo.show_if_values, r#"["true"]"#, "as the script reads a checkbox");
        assert!(view.has_groups);
    }

    fn render(spec: &FormSpec, step: usize, answers: &Answers, errors: &FieldErrors) -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let renderer = crate::web::render::Renderer::load(&root.join("themes"), &root.join("locales")).unwrap();
        let mut context = tera::Context::new();
        context.insert("step", &step_view(spec, step, answers, errors));
        let html = renderer.render("base", "cases/_fields.html", &context).unwrap();
        assert!(!html.contains(crate::web::render::MISSING_MARK), "a translation is missing");
        html
    }

    #[test]
    fn the_partial_renders_accessible_markup() {
        let spec = form(ACCESS);
        let mut errors = FieldErrors::default();
        errors.add("cf", Text::new("form.check.fiscal_code"));
        errors.add("per_conto", Text::new("form.check.select_required").with("label", "Presenti la richiesta"));
        let answers = Answers::from_value(serde_json::json!({ "nome": "Mario <Rossi>" }));
        let html = render(&spec, 0, &answers, &errors);
        assert!(html.contains(r#"<label for="f-nome" class="active">Nome e cognome</label>"#), "{html}");
        assert!(html.contains(r#"value="Mario &lt;Rossi&gt;""#), "escaped");
        assert!(html.contains(r#"autocomplete="name""#));
        assert!(html.contains(r#"class="form-control is-invalid" id="f-cf" name="cf" value="" autocomplete="off""#));
        assert!(html.contains(r#"aria-describedby="f-cf-error" aria-invalid="true""#));
        assert!(html.contains(r#"<div class="invalid-feedback d-block" id="f-cf-error">Inserisci un codice fiscale valido: 16 caratteri, controlla l&#x27;ultimo carattere di controllo.</div>"#));
        assert!(html.contains("Scegli una risposta per «Presenti la richiesta»."), "{html}");
        assert!(html.contains(r#"type="radio" id="f-per_conto-1" name="per_conto" value="altri""#));
        assert!(html.contains("<legend class=\"h6\">Presenti la richiesta</legend>"));
        assert!(html.contains(r#"data-show-if="per_conto" data-show-values="[&quot;altri&quot;]""#));
        assert!(html.contains(r#"type="file" class="form-control" id="f-delega" name="delega" accept=".pdf,.p7m""#));
        assert!(html.contains("Da compilare solo se in «Presenti la richiesta» hai risposto «Per conto di altri»."));

        let html = render(&spec, 1, &Answers::default(), &FieldErrors::default());
        assert!(html.contains(r#"name="residenza.cap""#) && html.contains(r#"autocomplete="postal-code""#));
        assert!(html.contains(r#"type="date""#));
        assert!(html.contains(r#"inputmode="numeric""#));
        assert!(html.contains("Data dell&#x27;atto <span class=\"fw-normal\">(facoltativo)</span>"), "{html}");

        let spec = form(MENSA);
        let answers = Answers::from_value(serde_json::json!({ "figli": [ {}, { "nome_figlio": "Anna" } ] }));
        let html = render(&spec, 0, &answers, &FieldErrors::default());
        assert!(html.contains(r#"name="figli._rows" value="2""#));
        assert!(html.contains(r#"<legend class="h5">Figli da iscrivere</legend>"#), "min = 1: not optional");
        assert!(html.contains(r#"name="figli.1.nome_figlio" value="Anna""#), "{html}");
        assert!(html.contains(r#"value="remove:figli:1""#) && html.contains(r#"value="add:figli""#));
        assert!(html.contains(r#"data-show-if="figli.0.dieta""#));
        assert!(html.contains(r#"<legend class="h6 px-2 w-auto">Figlio 2</legend>"#));
        let first_submit = html.find(r#"type="submit""#).unwrap();
        assert!(
            html[first_submit..].starts_with(r#"type="submit" name="_action" value="next""#),
            "Enter must not remove a row"
        );
    }
}
