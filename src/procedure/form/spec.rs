//! The form as written: the `[form]` table of `procedures/<slug>.toml`, its fields and
//! their options, and the checks a form passes when it is loaded.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answers::{prune, visible, Answers};
use crate::i18n::{Catalogues, Text};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    pub steps: Vec<StepSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intro: String,
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Textarea,
    Number,
    Date,
    Email,
    Phone,
    FiscalCode,
    VatNumber,
    Iban,
    Address,
    Select,
    Checkbox,
    File,
    Group,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Textarea => "textarea",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::FiscalCode => "fiscal_code",
            FieldType::VatNumber => "vat_number",
            FieldType::Iban => "iban",
            FieldType::Address => "address",
            FieldType::Select => "select",
            FieldType::Checkbox => "checkbox",
            FieldType::File => "file",
            FieldType::Group => "group",
        }
    }

    /// A single string answer (what `show_if` can compare, what `prefill` can fill).
    fn is_scalar(self) -> bool {
        !matches!(self, FieldType::Address | FieldType::Checkbox | FieldType::File | FieldType::Group)
    }
}

/// What `prefill` can take from the signed-in citizen ([`Identity`](super::Identity)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefillKey {
    GivenName,
    FamilyName,
    FullName,
    FiscalCode,
    Email,
    Mobile,
    BirthDate,
    BirthPlace,
    Address,
}

impl PrefillKey {
    /// The `autocomplete` token of an input holding the citizen's own data.
    pub(super) fn autocomplete(self) -> &'static str {
        match self {
            PrefillKey::GivenName => "given-name",
            PrefillKey::FamilyName => "family-name",
            PrefillKey::FullName => "name",
            PrefillKey::Email => "email",
            PrefillKey::Mobile => "tel",
            PrefillKey::BirthDate => "bday",
            PrefillKey::FiscalCode | PrefillKey::BirthPlace => "off",
            PrefillKey::Address => "street-address",
        }
    }
}

/// `show_if = { field = "k", equals = "v" }`, `{ field = "k", in = ["a", "b"] }`,
/// `{ field = "k", equals = true }` (checkbox) or `{ field = "k" }` (answered / ticked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowIf {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Expected>,
    #[serde(default, rename = "in", skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expected {
    Bool(bool),
    Text(String),
}

impl ShowIf {
    pub(super) fn matches(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else { return false };
        match (&self.equals, value) {
            (Some(Expected::Bool(b)), Value::Bool(v)) => b == v,
            (Some(Expected::Bool(_)), _) => false,
            (Some(Expected::Text(t)), Value::String(v)) => t == v,
            (Some(Expected::Text(_)), _) => false,
            (None, Value::String(v)) if !self.any_of.is_empty() => self.any_of.iter().any(|a| a == v),
            (None, Value::String(v)) => !v.is_empty(),
            (None, Value::Bool(v)) => *v && self.any_of.is_empty(),
            _ => false,
        }
    }

    /// The values that show the field, for the `data-show-values` attribute (empty:
    /// any answer, or a ticked checkbox).
    pub(super) fn values(&self) -> Vec<String> {
        match &self.equals {
            Some(Expected::Bool(b)) => vec![b.to_string()],
            Some(Expected::Text(t)) => vec![t.clone()],
            None => self.any_of.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceSpec {
    pub value: String,
    pub label: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One field. Options that do not apply to its `type` are refused by [`FormSpec::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefill: Option<PrefillKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
    /// text, textarea: at most this many characters (default 200 and 4000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// number: bounds of the value; group: bounds of the number of rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// number: digits allowed after the comma (absent: any; 0: whole numbers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// number: shown after the value, e.g. "€" or "m²".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_future: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub not_past: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ChoiceSpec>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub radio: bool,
    /// file: extensions, without the dot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiple: bool,
    /// group: the fields of one row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldSpec>,
    /// group: the "add a row" button, e.g. "Aggiungi un figlio".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_label: Option<String>,
    /// group: the name of one row, numbered, e.g. "Figlio" -> "Figlio 2".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_label: Option<String>,
}

/// Extensions a file field may accept.
pub const KNOWN_EXTENSIONS: &[&str] = &[
    "pdf", "p7m", "xml", "odt", "ods", "odp", "docx", "xlsx", "pptx", "txt", "csv", "jpg", "jpeg", "png", "tiff", "tif",
];

pub const DEFAULT_MAX_MB: u32 = 10;
const TEXT_MAX: usize = 200;
const TEXTAREA_MAX: usize = 4000;
/// Rows of a group when it sets no `max`.
const GROUP_MAX: usize = 20;

/// Address parts: the answer's key, the label's catalogue key, the `autocomplete` token.
pub(super) const ADDRESS_PARTS: [(&str, &str, &str); 5] = [
    ("street", "form.address.street", "address-line1"),
    ("number", "form.address.number", "off"),
    ("cap", "form.address.cap", "postal-code"),
    ("municipality", "form.address.municipality", "address-level2"),
    ("province", "form.address.province", "address-level1"),
];

impl FieldSpec {
    pub(super) fn max_length(&self) -> usize {
        self.max_length.unwrap_or(if self.kind == FieldType::Textarea { TEXTAREA_MAX } else { TEXT_MAX })
    }

    pub fn max_mb(&self) -> u32 {
        self.max_mb.unwrap_or(DEFAULT_MAX_MB)
    }

    pub(super) fn group_min(&self) -> usize {
        self.min.map(|m| m as usize).unwrap_or(if self.required { 1 } else { 0 })
    }

    pub(super) fn group_max(&self) -> usize {
        self.max.map(|m| m as usize).unwrap_or(GROUP_MAX)
    }

    /// `.pdf,.p7m` for the `accept` attribute of a file input.
    pub fn accept_attr(&self) -> String {
        self.accept.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(",")
    }

    /// "PDF, P7M": the formats, as told to people.
    pub fn accept_human(&self) -> String {
        self.accept.iter().map(|e| e.to_uppercase()).collect::<Vec<_>>().join(", ")
    }

    pub(super) fn row_legend(&self, index: usize) -> String {
        format!("{} {}", self.item_label.as_deref().unwrap_or(&self.label), index + 1)
    }
}

/// The generic form; its words are catalogue keys (`form.generic.*`), filled in
/// by [`FormSpec::generic`].
const GENERIC: &str = r#"
[[steps]]
title = "form.generic.applicant"
intro = "form.generic.applicant_intro"
fields = [
  { key = "given_name", label = "form.generic.given_name", type = "text", required = true, prefill = "given_name" },
  { key = "family_name", label = "form.generic.family_name", type = "text", required = true, prefill = "family_name" },
  { key = "fiscal_code", label = "form.generic.fiscal_code", type = "fiscal_code", required = true, prefill = "fiscal_code" },
  { key = "email", label = "form.generic.email", type = "email", required = true, prefill = "email" },
  { key = "phone", label = "form.generic.phone", type = "phone", prefill = "mobile", hint = "form.generic.phone_hint" },
]

[[steps]]
title = "form.generic.request"
fields = [
  { key = "subject", label = "form.generic.subject", type = "textarea", required = true, hint = "form.generic.subject_hint" },
  { key = "attachments", label = "form.generic.attachments", type = "file", accept = ["pdf", "p7m", "jpg", "png"], max_mb = 20, multiple = true, hint = "form.generic.attachments_hint" },
]
"#;

/// Where a field sits in the form.
pub(super) struct Located<'a> {
    pub(super) step: usize,
    pub(super) field: &'a FieldSpec,
    pub(super) group: Option<&'a FieldSpec>,
}

impl FormSpec {
    /// The form of a procedure that declares none: the applicant, the subject,
    /// attachments; its words in `lang` (a draft keeps the form it started with).
    pub fn generic(words: &Catalogues, lang: &str) -> FormSpec {
        let mut spec: FormSpec = toml::from_str(GENERIC).expect("the generic form parses");
        let say = |s: &mut String| {
            if !s.is_empty() {
                *s = words.get(lang, s);
            }
        };
        for step in &mut spec.steps {
            say(&mut step.title);
            say(&mut step.intro);
            for f in &mut step.fields {
                say(&mut f.label);
                say(&mut f.hint);
            }
        }
        spec
    }

    /// Every field, group rows' fields included, with where it sits.
    fn locate_all(&self) -> Vec<Located<'_>> {
        let mut out = Vec::new();
        for (step, s) in self.steps.iter().enumerate() {
            for field in &s.fields {
                out.push(Located { step, field, group: None });
                for sub in &field.fields {
                    out.push(Located { step, field: sub, group: Some(field) });
                }
            }
        }
        out
    }

    pub(super) fn locate(&self, key: &str) -> Option<Located<'_>> {
        self.locate_all().into_iter().find(|l| l.field.key == key)
    }

    /// A field by key (group rows' fields included).
    pub fn field(&self, key: &str) -> Option<&FieldSpec> {
        self.locate(key).map(|l| l.field)
    }

    /// Whether a step-level field is shown given the answers (e.g. to drop the
    /// documents of a file field that a later answer hid).
    pub fn is_shown(&self, key: &str, answers: &Answers) -> bool {
        let mut answers = answers.clone();
        prune(self, &mut answers);
        self.steps.iter().flat_map(|s| &s.fields).any(|f| f.key == key && visible(f, None, &answers.0))
    }

    /// Whether the form asks for documents (the page must be `multipart/form-data`).
    pub fn has_files(&self) -> bool {
        self.file_fields().next().is_some()
    }

    /// The file fields, in order, with their step.
    pub fn file_fields(&self) -> impl Iterator<Item = (usize, &FieldSpec)> {
        self.steps
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.fields.iter().filter(|f| f.kind == FieldType::File).map(move |f| (i, f)))
    }

    /// Checks a form as written: the loader (`tenant apply`) and the console's
    /// form builder run this one check. The first problem found, with where it
    /// is, so the builder can show it next to the offending field.
    pub fn problem(&self) -> Option<FormProblem> {
        if self.steps.is_empty() {
            return Some(FormProblem { step: None, field: None, message: Text::new("form.spec.no_steps") });
        }
        let mut seen = Seen::new();
        for (i, step) in self.steps.iter().enumerate() {
            if let Err(problem) = check_step(i, step, &mut seen) {
                return Some(problem);
            }
        }
        None
    }

    /// [`problem`](Self::problem) in English, naming the step and the field: what
    /// the loader prints.
    pub fn check(&self) -> Result<(), String> {
        match self.problem() {
            None => Ok(()),
            Some(p) => Err(p.english(self)),
        }
    }
}

/// What is wrong with a form, and where: the step (0-based) and the field's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormProblem {
    pub step: Option<usize>,
    pub field: Option<String>,
    pub message: Text,
}

impl FormProblem {
    fn english(&self, form: &FormSpec) -> String {
        let words = Catalogues::english();
        let message = words.text("en", &self.message);
        let Some(i) = self.step else { return format!("form: {message}") };
        let title = form.steps.get(i).map(|s| s.title.as_str()).unwrap_or_default();
        match &self.field {
            Some(key) => format!("form step {} ({title:?}), field {key:?}: {message}", i + 1),
            None => format!("form step {} ({title:?}): {message}", i + 1),
        }
    }
}

/// The fields defined so far, by key, with their step: what a `show_if` may point
/// to, and what a new key must not repeat.
type Seen<'a> = HashMap<&'a str, (usize, &'a FieldSpec)>;

fn check_step<'a>(i: usize, step: &'a StepSpec, seen: &mut Seen<'a>) -> Result<(), FormProblem> {
    let at =
        |field: Option<&str>, message: Text| FormProblem { step: Some(i), field: field.map(String::from), message };
    if step.title.trim().is_empty() {
        return Err(at(None, Text::new("form.spec.step_title")));
    }
    if step.fields.is_empty() {
        return Err(at(None, Text::new("form.spec.step_empty")));
    }
    for field in &step.fields {
        check_field(field, seen, None).map_err(|e| at(Some(&field.key), e))?;
        if seen.insert(&field.key, (i, field)).is_some() {
            return Err(at(Some(&field.key), used_twice(&field.key)));
        }
        if field.kind == FieldType::Group {
            check_group_fields(i, field, seen)?;
        }
    }
    Ok(())
}

/// The fields of a group's row: each may depend on the fields before the group and on
/// its siblings before it; keys are unique across the whole form.
fn check_group_fields<'a>(i: usize, group: &'a FieldSpec, seen: &mut Seen<'a>) -> Result<(), FormProblem> {
    let at = |key: &str, message: Text| FormProblem { step: Some(i), field: Some(key.to_string()), message };
    let mut siblings = seen.clone();
    let mut own = HashSet::new();
    for sub in &group.fields {
        check_field(sub, &siblings, Some(group)).map_err(|e| at(&sub.key, e))?;
        if seen.contains_key(sub.key.as_str()) || !own.insert(sub.key.as_str()) {
            return Err(at(&sub.key, used_twice(&sub.key)));
        }
        siblings.insert(&sub.key, (i, sub));
    }
    for sub in &group.fields {
        seen.insert(&sub.key, (i, sub));
    }
    Ok(())
}

fn used_twice(key: &str) -> Text {
    Text::new("form.spec.key_twice").with("key", key)
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && key.len() <= 40
        && key != "csrf_token"
}

/// `form.spec.<key>`, the message of a refused form.
fn says(key: &'static str) -> Text {
    Text::new(format!("form.spec.{key}"))
}

/// One field, against the fields seen before it (`group`: the group it belongs to).
fn check_field(f: &FieldSpec, earlier: &Seen, group: Option<&FieldSpec>) -> Result<(), Text> {
    if !is_valid_key(&f.key) {
        return Err(says("key_invalid"));
    }
    if f.label.trim().is_empty() {
        return Err(says("label_empty"));
    }
    check_options_apply(f)?;
    check_kind_options(f, group)?;
    if let Some(p) = f.prefill {
        check_prefill(f, p, group)?;
    }
    if let Some(cond) = &f.show_if {
        check_show_if(cond, earlier, group)?;
    }
    Ok(())
}

/// Refuses the options meant for another type (a `max_length` on a date, …).
fn check_options_apply(f: &FieldSpec) -> Result<(), Text> {
    use FieldType as T;
    let not_for = |what: &str, set: bool| -> Result<(), Text> {
        if set {
            Err(says("option_not_for_type").with("option", what).with("type", f.kind.as_str()))
        } else {
            Ok(())
        }
    };
    not_for("max_length", f.max_length.is_some() && !matches!(f.kind, T::Text | T::Textarea))?;
    not_for("min", f.min.is_some() && !matches!(f.kind, T::Number | T::Group))?;
    not_for("max", f.max.is_some() && !matches!(f.kind, T::Number | T::Group))?;
    not_for("decimals", f.decimals.is_some() && f.kind != T::Number)?;
    not_for("unit", f.unit.is_some() && f.kind != T::Number)?;
    not_for("not_future", f.not_future && f.kind != T::Date)?;
    not_for("not_past", f.not_past && f.kind != T::Date)?;
    not_for("options", !f.options.is_empty() && f.kind != T::Select)?;
    not_for("radio", f.radio && f.kind != T::Select)?;
    not_for("accept", !f.accept.is_empty() && f.kind != T::File)?;
    not_for("max_mb", f.max_mb.is_some() && f.kind != T::File)?;
    not_for("multiple", f.multiple && f.kind != T::File)?;
    not_for("fields", !f.fields.is_empty() && f.kind != T::Group)?;
    not_for("add_label", f.add_label.is_some() && f.kind != T::Group)?;
    not_for("item_label", f.item_label.is_some() && f.kind != T::Group)
}

/// The options of the field's own type make sense.
fn check_kind_options(f: &FieldSpec, group: Option<&FieldSpec>) -> Result<(), Text> {
    use FieldType as T;
    match f.kind {
        T::Text | T::Textarea => {
            if f.max_length == Some(0) || f.max_length.is_some_and(|m| m > 20_000) {
                return Err(says("max_length"));
            }
            Ok(())
        }
        T::Number => check_number_options(f),
        T::Date => {
            if f.not_future && f.not_past {
                return Err(says("only_today"));
            }
            Ok(())
        }
        T::Select => check_select_options(f),
        T::File => check_file_options(f, group),
        T::Group => check_group_options(f, group),
        T::Email | T::Phone | T::FiscalCode | T::VatNumber | T::Iban | T::Address | T::Checkbox => Ok(()),
    }
}

fn min_over_max(min: f64, max: f64) -> Text {
    says("min_over_max").with("min", min).with("max", max)
}

fn check_number_options(f: &FieldSpec) -> Result<(), Text> {
    if let (Some(min), Some(max)) = (f.min, f.max) {
        if min > max {
            return Err(min_over_max(min, max));
        }
    }
    if f.decimals.is_some_and(|d| d > 6) {
        return Err(says("decimals"));
    }
    Ok(())
}

fn check_select_options(f: &FieldSpec) -> Result<(), Text> {
    if f.options.is_empty() {
        return Err(says("select_no_options"));
    }
    let mut values = HashSet::new();
    for o in &f.options {
        if o.value.trim().is_empty() || o.label.trim().is_empty() {
            return Err(says("option_incomplete"));
        }
        if !values.insert(o.value.as_str()) {
            return Err(says("option_twice").with("value", &o.value));
        }
    }
    Ok(())
}

fn check_file_options(f: &FieldSpec, group: Option<&FieldSpec>) -> Result<(), Text> {
    let known = KNOWN_EXTENSIONS.join(" ");
    if group.is_some() {
        return Err(says("file_in_group"));
    }
    if f.accept.is_empty() {
        return Err(says("file_no_accept").with("known", known));
    }
    for ext in &f.accept {
        if !KNOWN_EXTENSIONS.contains(&ext.as_str()) {
            return Err(says("file_extension").with("ext", ext).with("known", known));
        }
    }
    if f.max_mb.is_some_and(|m| m == 0 || m > 100) {
        return Err(says("max_mb"));
    }
    Ok(())
}

fn check_group_options(f: &FieldSpec, group: Option<&FieldSpec>) -> Result<(), Text> {
    if group.is_some() {
        return Err(says("group_nested"));
    }
    if f.fields.is_empty() {
        return Err(says("group_empty"));
    }
    for (name, v) in [("min", f.min), ("max", f.max)] {
        if v.is_some_and(|v| v < 0.0 || v.fract() != 0.0 || v > 100.0) {
            return Err(says("group_rows").with("bound", name));
        }
    }
    if f.max == Some(0.0) {
        return Err(says("group_max_zero"));
    }
    if let (Some(min), Some(max)) = (f.min, f.max) {
        if min > max {
            return Err(min_over_max(min, max));
        }
    }
    Ok(())
}

/// What the citizen's identity fills must fit the field's type.
fn check_prefill(f: &FieldSpec, p: PrefillKey, group: Option<&FieldSpec>) -> Result<(), Text> {
    use FieldType as T;
    if group.is_some() {
        return Err(says("prefill_in_group"));
    }
    let ok = match p {
        PrefillKey::Email => matches!(f.kind, T::Email | T::Text),
        PrefillKey::Mobile => matches!(f.kind, T::Phone | T::Text),
        PrefillKey::FiscalCode => matches!(f.kind, T::FiscalCode | T::Text),
        PrefillKey::BirthDate => matches!(f.kind, T::Date | T::Text),
        PrefillKey::Address => matches!(f.kind, T::Address | T::Text | T::Textarea),
        PrefillKey::GivenName | PrefillKey::FamilyName | PrefillKey::FullName | PrefillKey::BirthPlace => {
            f.kind == T::Text
        }
    };
    if !ok {
        return Err(says("prefill_type").with("prefill", format!("{p:?}")).with("type", f.kind.as_str()));
    }
    Ok(())
}

/// A condition points to a field defined before, at the step level or in the same
/// group, and names values that field can have.
fn check_show_if(cond: &ShowIf, earlier: &Seen, group: Option<&FieldSpec>) -> Result<(), Text> {
    let Some((_, target)) = earlier.get(cond.field.as_str()) else {
        return Err(says("show_if_later").with("field", &cond.field));
    };
    let in_other_group =
        group.is_none_or(|g| !g.fields.iter().any(|s| s.key == cond.field)) && !earlier_top_level(earlier, &cond.field);
    if in_other_group {
        return Err(says("show_if_group").with("field", &cond.field));
    }
    if cond.equals.is_some() && !cond.any_of.is_empty() {
        return Err(says("show_if_both"));
    }
    check_show_if_values(cond, target)
}

/// The values a condition compares fit the type of the field it points to.
fn check_show_if_values(cond: &ShowIf, target: &FieldSpec) -> Result<(), Text> {
    match target.kind {
        FieldType::Checkbox => {
            if !cond.any_of.is_empty() || matches!(cond.equals, Some(Expected::Text(_))) {
                return Err(says("show_if_checkbox").with("field", &cond.field));
            }
        }
        k if k.is_scalar() => {
            if matches!(cond.equals, Some(Expected::Bool(_))) {
                return Err(says("show_if_text").with("field", &cond.field).with("type", k.as_str()));
            }
            if k == FieldType::Select {
                let mut wanted = cond.any_of.clone();
                if let Some(Expected::Text(t)) = &cond.equals {
                    wanted.push(t.clone());
                }
                if let Some(bad) = wanted.iter().find(|w| !target.options.iter().any(|o| &o.value == *w)) {
                    return Err(says("show_if_option").with("value", bad).with("field", &cond.field));
                }
            }
        }
        k => return Err(says("show_if_type").with("type", k.as_str())),
    }
    Ok(())
}

/// Whether `key`, seen earlier, is a step-level field (not a group row's).
fn earlier_top_level(earlier: &Seen, key: &str) -> bool {
    earlier.values().all(|(_, f)| f.kind != FieldType::Group || !f.fields.iter().any(|s| s.key == key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::test_support::*;

    fn check_err(toml_text: &str) -> String {
        let spec: FormSpec = toml::from_str(toml_text).expect("parses");
        spec.check().expect_err("should be refused")
    }

    #[test]
    fn the_generic_form_checks_and_asks_the_subject() {
        let spec = FormSpec::generic(&Catalogues::for_tests(), "it");
        spec.check().unwrap();
        assert_eq!(spec.steps[0].title, "Richiedente");
        assert_eq!(spec.steps.len(), 2);
        let subject = spec.field("subject").unwrap();
        assert!(subject.required && subject.kind == FieldType::Textarea);
        let files = spec.field("attachments").unwrap();
        assert!(files.multiple && !files.required && files.max_mb == Some(20));
        assert_eq!(files.accept_attr(), ".pdf,.p7m,.jpg,.png");
        assert!(spec.has_files());
    }

    #[test]
    fn a_form_round_trips_through_json() {
        let spec = form(ACCESS);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(serde_json::from_value::<FormSpec>(json).unwrap(), spec);
    }

    #[test]
    fn check_refuses_mistakes_with_a_clear_message() {
        let step = |fields: &str| format!("[[steps]]\ntitle = \"Dati\"\nfields = [ {fields} ]\n");
        let cases = [
            (
                step(r#"{ key = "a", label = "A", type = "text" }, { key = "a", label = "B", type = "text" }"#),
                "used twice",
            ),
            (
                step(
                    r#"{ key = "a", label = "A", type = "text", show_if = { field = "b" } }, { key = "b", label = "B", type = "text" }"#,
                ),
                "not a field defined before",
            ),
            (step(r#"{ key = "s", label = "S", type = "select" }"#), "needs `options"),
            (step(r#"{ key = "n", label = "N", type = "number", min = 10, max = 1 }"#), "greater than max"),
            (step(r#"{ key = "f", label = "F", type = "file" }"#), "needs `accept`"),
            (step(r#"{ key = "f", label = "F", type = "file", accept = ["exe"] }"#), "\"exe\" is not accepted"),
            (step(r#"{ key = "f", label = "F", type = "file", accept = [".pdf"] }"#), "is not accepted"),
            (step(r#"{ key = "t", label = "T", type = "text", accept = ["pdf"] }"#), "`accept` does not apply"),
            (step(r#"{ key = "d", label = "D", type = "date", not_future = true, not_past = true }"#), "only today"),
            (
                step(
                    r#"{ key = "g", label = "G", type = "group", fields = [ { key = "h", label = "H", type = "group", fields = [ { key = "x", label = "X", type = "text" } ] } ] }"#,
                ),
                "cannot be nested",
            ),
            (
                step(
                    r#"{ key = "g", label = "G", type = "group", fields = [ { key = "x", label = "X", type = "file", accept = ["pdf"] } ] }"#,
                ),
                "cannot sit inside a group",
            ),
            (
                step(
                    r#"{ key = "g", label = "G", type = "group", min = 1.5, fields = [ { key = "x", label = "X", type = "text" } ] }"#,
                ),
                "whole number",
            ),
            (
                step(
                    r#"{ key = "s", label = "S", type = "select", options = [ { value = "a", label = "A" } ] }, { key = "t", label = "T", type = "text", show_if = { field = "s", equals = "b" } }"#,
                ),
                "\"b\" is not an option value",
            ),
            (
                step(
                    r#"{ key = "c", label = "C", type = "checkbox" }, { key = "t", label = "T", type = "text", show_if = { field = "c", equals = "si" } }"#,
                ),
                "equals = true",
            ),
            (step(r#"{ key = "Nome", label = "N", type = "text" }"#), "lowercase"),
            (
                step(
                    r#"{ key = "e", label = "E", type = "select", prefill = "email", options = [ { value = "a", label = "A" } ] }"#,
                ),
                "does not fit",
            ),
            (
                step(
                    r#"{ key = "g", label = "G", type = "group", fields = [ { key = "x", label = "X", type = "text" } ] }, { key = "t", label = "T", type = "text", show_if = { field = "x" } }"#,
                ),
                "inside a group",
            ),
            ("steps = []".to_string(), "at least one"),
        ];
        for (text, expected) in cases {
            let e = check_err(&text);
            assert!(e.contains(expected), "{text}\n-> {e}\n(expected {expected:?})");
        }
        // Unknown options are refused by serde itself.
        assert!(
            toml::from_str::<FormSpec>(&step(r#"{ key = "a", label = "A", type = "text", colour = "red" }"#)).is_err()
        );
        assert!(toml::from_str::<FormSpec>(&step(r#"{ key = "a", label = "A", type = "colour" }"#)).is_err());
        assert!(toml::from_str::<FormSpec>(&step(
            r#"{ key = "a", label = "A", type = "text", prefill = "shoe_size" }"#
        ))
        .is_err());
    }

    #[test]
    fn every_demo_procedure_form_checks() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tenants");
        let mut forms = 0;
        for tenant in std::fs::read_dir(&root).unwrap() {
            let dir = tenant.unwrap().path().join("procedures");
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).unwrap() {
                let path = file.unwrap().path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let spec = crate::procedure::spec::ProcedureSpec::parse("p", &std::fs::read_to_string(&path).unwrap())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if let Some(form) = spec.content.form {
                    form.check().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    forms += 1;
                }
            }
        }
        assert!(forms >= 4, "the demo tenants show at least four forms, found {forms}");
    }
}
