//! The form of a procedure: its spec (the `[form]` table of `procedures/<slug>.toml`),
//! reading and checking the answers of one step, the prefill from the citizen's
//! identity, and the view models the templates render (a step, the summary).
//!
//! Pure: no database, no HTTP. Answers are a JSON object: scalar fields hold a string
//! (checkbox: a bool), an address an object, a repeatable group an array of objects.
//! File fields hold nothing here: the caller keeps the documents and passes their
//! counts (or names) in.
//!
//! HTML names: `key`, `key.street` (address parts), `key.0.sub` (group rows), and
//! `key._rows` (hidden: rows shown). A submit button named `_action` with value
//! `add:<group>` or `remove:<group>:<index>` edits a group without JavaScript.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::input::{normalize_email, normalize_fiscal_code, normalize_iban, normalize_phone, normalize_vat_number};

// ---------------------------------------------------------------------------
// Spec
// ---------------------------------------------------------------------------

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

/// What `prefill` can take from the signed-in citizen ([`Identity`]).
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
    fn autocomplete(self) -> &'static str {
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
    fn matches(&self, value: Option<&Value>) -> bool {
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
    fn values(&self) -> Vec<String> {
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

const ADDRESS_PARTS: [(&str, &str, &str); 5] = [
    ("street", "Indirizzo (via, piazza…)", "address-line1"),
    ("number", "Numero civico", "off"),
    ("cap", "CAP", "postal-code"),
    ("municipality", "Comune", "address-level2"),
    ("province", "Provincia (sigla)", "address-level1"),
];

impl FieldSpec {
    fn max_length(&self) -> usize {
        self.max_length.unwrap_or(if self.kind == FieldType::Textarea { TEXTAREA_MAX } else { TEXT_MAX })
    }

    pub fn max_mb(&self) -> u32 {
        self.max_mb.unwrap_or(DEFAULT_MAX_MB)
    }

    fn group_min(&self) -> usize {
        self.min.map(|m| m as usize).unwrap_or(if self.required { 1 } else { 0 })
    }

    fn group_max(&self) -> usize {
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

    /// Whether an uploaded file fits this file field: its extension and its size.
    /// The error is the Italian message to show next to the field.
    pub fn check_upload(&self, file_name: &str, size_bytes: u64) -> Result<(), String> {
        let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_lowercase()).unwrap_or_default();
        if !self.accept.iter().any(|a| a.eq_ignore_ascii_case(&ext)) {
            return Err(format!(
                "Il file «{file_name}» non è in un formato ammesso per «{}»: carica un file {}.",
                self.label,
                or_list(&self.accept.iter().map(|e| e.to_uppercase()).collect::<Vec<_>>())
            ));
        }
        let max = self.max_mb() as u64 * 1024 * 1024;
        if size_bytes > max {
            return Err(format!(
                "Il file «{file_name}» è troppo grande ({} MB): la dimensione massima è {} MB. Prova a ridurne la risoluzione o a dividerlo.",
                format_decimal(size_bytes as f64 / 1024.0 / 1024.0, 1),
                self.max_mb()
            ));
        }
        Ok(())
    }

    fn row_legend(&self, index: usize) -> String {
        format!("{} {}", self.item_label.as_deref().unwrap_or(&self.label), index + 1)
    }
}

const GENERIC: &str = r#"
[[steps]]
title = "Richiedente"
intro = "Controlla i tuoi dati: li useremo per comunicare con te su questa pratica."
fields = [
  { key = "given_name", label = "Nome", type = "text", required = true, prefill = "given_name" },
  { key = "family_name", label = "Cognome", type = "text", required = true, prefill = "family_name" },
  { key = "fiscal_code", label = "Codice fiscale", type = "fiscal_code", required = true, prefill = "fiscal_code" },
  { key = "email", label = "Indirizzo e-mail", type = "email", required = true, prefill = "email" },
  { key = "phone", label = "Telefono", type = "phone", prefill = "mobile", hint = "Ti chiameremo solo se servono chiarimenti." },
]

[[steps]]
title = "Richiesta"
fields = [
  { key = "subject", label = "Oggetto della richiesta", type = "textarea", required = true, hint = "Descrivi che cosa chiedi e perché, con i riferimenti utili (date, numeri di pratica, luoghi)." },
  { key = "attachments", label = "Allegati", type = "file", accept = ["pdf", "p7m", "jpg", "png"], max_mb = 20, multiple = true, hint = "Documenti utili alla richiesta, se ne hai." },
]
"#;

/// Where a field sits in the form.
struct Located<'a> {
    step: usize,
    field: &'a FieldSpec,
    group: Option<&'a FieldSpec>,
}

impl FormSpec {
    /// The form of a procedure that declares none: the applicant, the subject, attachments.
    pub fn generic() -> FormSpec {
        toml::from_str(GENERIC).expect("the generic form parses")
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

    fn locate(&self, key: &str) -> Option<Located<'_>> {
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

    /// Checks a form as written, at load time. The message names the field.
    pub fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("form: add at least one [[form.steps]]".into());
        }
        let mut seen: HashMap<&str, (usize, &FieldSpec)> = HashMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            let here = format!("form step {} ({:?})", i + 1, step.title);
            if step.title.trim().is_empty() {
                return Err(format!("form step {}: the title must not be empty", i + 1));
            }
            if step.fields.is_empty() {
                return Err(format!("{here}: add at least one field"));
            }
            for field in &step.fields {
                check_field(field, &seen, None).map_err(|e| format!("{here}, field {:?}: {e}", field.key))?;
                if seen.insert(&field.key, (i, field)).is_some() {
                    return Err(format!(
                        "{here}: the key {:?} is used twice; keys must be unique in the form",
                        field.key
                    ));
                }
                if field.kind == FieldType::Group {
                    let mut siblings: HashMap<&str, (usize, &FieldSpec)> = seen.clone();
                    let mut own = HashSet::new();
                    for sub in &field.fields {
                        check_field(sub, &siblings, Some(field))
                            .map_err(|e| format!("{here}, field {:?}.{:?}: {e}", field.key, sub.key))?;
                        if seen.contains_key(sub.key.as_str()) || !own.insert(sub.key.as_str()) {
                            return Err(format!(
                                "{here}: the key {:?} is used twice; keys must be unique in the form",
                                sub.key
                            ));
                        }
                        siblings.insert(&sub.key, (i, sub));
                    }
                    for sub in &field.fields {
                        seen.insert(&sub.key, (i, sub));
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && key.len() <= 40
        && key != "csrf_token"
}

/// One field, against the fields seen before it (`group`: the group it belongs to).
fn check_field(
    f: &FieldSpec,
    earlier: &HashMap<&str, (usize, &FieldSpec)>,
    group: Option<&FieldSpec>,
) -> Result<(), String> {
    use FieldType as T;
    if !is_valid_key(&f.key) {
        return Err("the key must be lowercase letters, digits, '_' or '-', starting with a letter".into());
    }
    if f.label.trim().is_empty() {
        return Err("the label must not be empty".into());
    }
    let not_for = |what: &str, set: bool| -> Result<(), String> {
        if set {
            Err(format!("`{what}` does not apply to a field of type {}", f.kind.as_str()))
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
    not_for("item_label", f.item_label.is_some() && f.kind != T::Group)?;

    match f.kind {
        T::Text | T::Textarea => {
            if f.max_length == Some(0) || f.max_length.is_some_and(|m| m > 20_000) {
                return Err("max_length must be between 1 and 20000".into());
            }
        }
        T::Number => {
            if let (Some(min), Some(max)) = (f.min, f.max) {
                if min > max {
                    return Err(format!("min ({min}) is greater than max ({max})"));
                }
            }
            if f.decimals.is_some_and(|d| d > 6) {
                return Err("decimals must be between 0 and 6".into());
            }
        }
        T::Date => {
            if f.not_future && f.not_past {
                return Err("not_future and not_past together leave only today: drop one".into());
            }
        }
        T::Select => {
            if f.options.is_empty() {
                return Err("a select needs `options = [{ value, label }, ...]`".into());
            }
            let mut values = HashSet::new();
            for o in &f.options {
                if o.value.trim().is_empty() || o.label.trim().is_empty() {
                    return Err("every option needs a value and a label".into());
                }
                if !values.insert(o.value.as_str()) {
                    return Err(format!("the option value {:?} is repeated", o.value));
                }
            }
        }
        T::File => {
            if group.is_some() {
                return Err("file fields cannot sit inside a group: put them at the step level".into());
            }
            if f.accept.is_empty() {
                return Err(format!(
                    "a file field needs `accept`, e.g. [\"pdf\", \"p7m\"]; known: {}",
                    KNOWN_EXTENSIONS.join(" ")
                ));
            }
            for ext in &f.accept {
                if !KNOWN_EXTENSIONS.contains(&ext.as_str()) {
                    return Err(format!(
                        "the extension {ext:?} is not accepted (lowercase, without the dot); known: {}",
                        KNOWN_EXTENSIONS.join(" ")
                    ));
                }
            }
            if f.max_mb.is_some_and(|m| m == 0 || m > 100) {
                return Err("max_mb must be between 1 and 100".into());
            }
        }
        T::Group => {
            if group.is_some() {
                return Err("groups cannot be nested".into());
            }
            if f.fields.is_empty() {
                return Err("a group needs `fields = [...]`".into());
            }
            for (name, v) in [("min", f.min), ("max", f.max)] {
                if v.is_some_and(|v| v < 0.0 || v.fract() != 0.0 || v > 100.0) {
                    return Err(format!("{name} of a group is a whole number of rows, 0 to 100"));
                }
            }
            if f.max == Some(0.0) {
                return Err("max of a group must be at least 1".into());
            }
            if let (Some(min), Some(max)) = (f.min, f.max) {
                if min > max {
                    return Err(format!("min ({min}) is greater than max ({max})"));
                }
            }
        }
        T::Email | T::Phone | T::FiscalCode | T::VatNumber | T::Iban | T::Address | T::Checkbox => {}
    }

    if let Some(p) = f.prefill {
        if group.is_some() {
            return Err("prefill is not available inside a group (its rows are about other people)".into());
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
            return Err(format!("prefill {p:?} does not fit a field of type {}", f.kind.as_str()));
        }
    }

    if let Some(cond) = &f.show_if {
        let Some((_, target)) = earlier.get(cond.field.as_str()) else {
            return Err(format!("show_if points to {:?}, which is not a field defined before this one", cond.field));
        };
        let in_other_group = group.is_none_or(|g| !g.fields.iter().any(|s| s.key == cond.field))
            && !earlier_top_level(earlier, &cond.field);
        if in_other_group {
            return Err(format!("show_if points to {:?}, a field inside a group", cond.field));
        }
        if cond.equals.is_some() && !cond.any_of.is_empty() {
            return Err("show_if takes either `equals` or `in`, not both".into());
        }
        match target.kind {
            T::Checkbox => {
                if !cond.any_of.is_empty() || matches!(cond.equals, Some(Expected::Text(_))) {
                    return Err(format!(
                        "show_if on the checkbox {:?}: use `equals = true` or `equals = false`",
                        cond.field
                    ));
                }
            }
            k if k.is_scalar() => {
                if matches!(cond.equals, Some(Expected::Bool(_))) {
                    return Err(format!(
                        "show_if on {:?}: `equals` takes a string for a {} field",
                        cond.field,
                        k.as_str()
                    ));
                }
                if k == T::Select {
                    let mut wanted = cond.any_of.clone();
                    if let Some(Expected::Text(t)) = &cond.equals {
                        wanted.push(t.clone());
                    }
                    if let Some(bad) = wanted.iter().find(|w| !target.options.iter().any(|o| &o.value == *w)) {
                        return Err(format!("show_if: {bad:?} is not an option value of {:?}", cond.field));
                    }
                }
            }
            k => return Err(format!("show_if cannot depend on a field of type {}", k.as_str())),
        }
    }
    Ok(())
}

/// Whether `key`, seen earlier, is a step-level field (not a group row's).
fn earlier_top_level(earlier: &HashMap<&str, (usize, &FieldSpec)>, key: &str) -> bool {
    earlier.values().all(|(_, f)| f.kind != FieldType::Group || !f.fields.iter().any(|s| s.key == key))
}

// ---------------------------------------------------------------------------
// Answers and errors
// ---------------------------------------------------------------------------

/// The answers given so far: a JSON object keyed by field key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Answers(pub Map<String, Value>);

impl Answers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A scalar answer as text (checkbox: "true"/"false").
    pub fn text(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// From a stored JSON value (anything but an object gives no answers).
    pub fn from_value(value: Value) -> Self {
        match value {
            Value::Object(map) => Self(map),
            _ => Self::default(),
        }
    }

    /// Copies in the answers of `other` that this one lacks (e.g. a prefill under a draft).
    pub fn fill_from(&mut self, other: &Answers) {
        for (k, v) in &other.0 {
            self.0.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

/// HTML field name (`key`, `key.cap`, `key.0.sub`) -> Italian message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    /// Keeps the first message of a field.
    pub fn add(&mut self, name: impl Into<String>, message: impl Into<String>) {
        self.0.entry(name.into()).or_insert_with(|| message.into());
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: FieldErrors) {
        for (k, v) in other.0 {
            self.add(k, v);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// The `id` of the input with this HTML name.
pub fn html_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

// ---------------------------------------------------------------------------
// Group actions
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `add:<group>`: one more row.
    Add { group: String },
    /// `remove:<group>:<index>`: drop that row.
    Remove { group: String, index: usize },
}

/// The group action of a submission, if its `_action` button was one.
pub fn parse_action(raw: &[(String, String)]) -> Option<Action> {
    let (_, value) = raw.iter().find(|(k, _)| k == "_action")?;
    let mut parts = value.splitn(3, ':');
    match (parts.next()?, parts.next(), parts.next()) {
        ("add", Some(group), None) if !group.is_empty() => Some(Action::Add { group: group.to_string() }),
        ("remove", Some(group), Some(index)) => {
            Some(Action::Remove { group: group.to_string(), index: index.parse().ok()? })
        }
        _ => None,
    }
}

/// Applies a group action of step `step` to the answers (as [`parse_step`] returned
/// them). False when it does not apply (unknown group, limit reached, bad index):
/// re-render the step as it is. After an action, re-render the same step with no
/// errors: the citizen has not finished it yet.
pub fn apply_action(spec: &FormSpec, step: usize, answers: &mut Answers, action: &Action) -> bool {
    let (Action::Add { group } | Action::Remove { group, .. }) = action;
    let Some(field) =
        spec.steps.get(step).and_then(|s| s.fields.iter().find(|f| &f.key == group && f.kind == FieldType::Group))
    else {
        return false;
    };
    let mut rows = match answers.0.get(group.as_str()) {
        Some(Value::Array(rows)) => rows.clone(),
        _ => Vec::new(),
    };
    let shown = rows.len().max(field.group_min());
    match action {
        Action::Add { .. } => {
            if shown >= field.group_max() {
                return false;
            }
            while rows.len() < shown + 1 {
                rows.push(Value::Object(Map::new()));
            }
        }
        Action::Remove { index, .. } => {
            if *index >= rows.len() {
                return false;
            }
            rows.remove(*index);
        }
    }
    answers.0.insert(group.clone(), Value::Array(rows));
    true
}

// ---------------------------------------------------------------------------
// Reading and checking
// ---------------------------------------------------------------------------

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

struct Raw<'a>(HashMap<&'a str, &'a str>);

impl<'a> Raw<'a> {
    fn new(raw: &'a [(String, String)]) -> Self {
        let mut map = HashMap::new();
        for (k, v) in raw {
            map.entry(k.as_str()).or_insert(v.as_str());
        }
        Self(map)
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).copied()
    }
}

fn truthy(raw: Option<&str>) -> bool {
    matches!(raw.map(str::trim), Some("true" | "1" | "on" | "yes" | "si" | "sì"))
}

/// Reads one field from the posted pairs (no checks beyond trimming). None: no answer.
fn read_field(f: &FieldSpec, name: &str, raw: &Raw, keep_empty_rows: bool) -> Option<Value> {
    match f.kind {
        FieldType::File => None,
        FieldType::Checkbox => Some(Value::Bool(truthy(raw.get(name)))),
        FieldType::Address => {
            let mut parts = Map::new();
            for (part, _, _) in ADDRESS_PARTS {
                let v = raw.get(&format!("{name}.{part}")).map(str::trim).unwrap_or_default();
                if !v.is_empty() {
                    parts.insert(part.to_string(), Value::String(v.to_string()));
                }
            }
            (!parts.is_empty()).then_some(Value::Object(parts))
        }
        FieldType::Group => {
            let prefix = format!("{name}.");
            // Row numbers come from the visitor: only those a row can have count
            // (`group.18446744073709551615.x` once overflowed `i + 1`).
            let limit = f.group_max().min(100);
            let mut count = raw.get(&format!("{name}._rows")).and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(0);
            for k in raw.0.keys() {
                if let Some(i) = k
                    .strip_prefix(&prefix)
                    .and_then(|r| r.split('.').next())
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| *i < limit)
                {
                    count = count.max(i + 1);
                }
            }
            let count = count.min(limit);
            let mut rows = Vec::new();
            for i in 0..count {
                let mut row = Map::new();
                for sub in &f.fields {
                    if let Some(v) = read_field(sub, &format!("{name}.{i}.{}", sub.key), raw, keep_empty_rows) {
                        row.insert(sub.key.clone(), v);
                    }
                }
                if keep_empty_rows || !row_is_empty(&row) {
                    rows.push(Value::Object(row));
                }
            }
            Some(Value::Array(rows))
        }
        _ => {
            let v = raw.get(name).map(str::trim).unwrap_or_default();
            (!v.is_empty()).then(|| Value::String(v.to_string()))
        }
    }
}

fn row_is_empty(row: &Map<String, Value>) -> bool {
    row.values().all(|v| match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Object(o) => o.is_empty(),
        Value::Null => true,
        _ => false,
    })
}

/// Whether the field is shown, given the answers of its row (for a group's field)
/// and of the form. Hidden controllers have no answer, so chains hide too.
fn visible(f: &FieldSpec, row: Option<&Map<String, Value>>, top: &Map<String, Value>) -> bool {
    let Some(cond) = &f.show_if else { return true };
    let value = row.and_then(|r| r.get(&cond.field)).or_else(|| top.get(&cond.field));
    cond.matches(value)
}

/// Drops the answers of hidden fields, in form order (so a hidden field hides its
/// dependants too). [`parse_step`] does it already.
pub fn prune(spec: &FormSpec, answers: &mut Answers) {
    for step in &spec.steps {
        for f in &step.fields {
            if !visible(f, None, &answers.0) {
                answers.0.remove(&f.key);
                continue;
            }
            if f.kind == FieldType::Group {
                let top = answers.0.clone();
                if let Some(Value::Array(rows)) = answers.0.get_mut(&f.key) {
                    for row in rows.iter_mut().filter_map(Value::as_object_mut) {
                        for sub in &f.fields {
                            if !visible(sub, Some(row), &top) {
                                row.remove(&sub.key);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reads the pairs posted by step `step` (0-based), normalizes them, merges them into
/// the previous answers and checks that step. Values of hidden fields are dropped.
/// File fields are not read here: check them with [`check_files`].
///
/// On a group action (see [`parse_action`]) empty rows are kept, so that a row just
/// added stays on screen; otherwise empty rows are dropped.
pub fn parse_step(
    spec: &FormSpec,
    step: usize,
    raw: &[(String, String)],
    previous: &Answers,
) -> (Answers, FieldErrors) {
    parse_step_on(spec, step, raw, previous, today())
}

fn parse_step_on(
    spec: &FormSpec,
    step: usize,
    raw: &[(String, String)],
    previous: &Answers,
    today: NaiveDate,
) -> (Answers, FieldErrors) {
    let mut answers = previous.clone();
    let mut errors = FieldErrors::default();
    let Some(s) = spec.steps.get(step) else { return (answers, errors) };
    let keep_empty_rows = parse_action(raw).is_some();
    let raw = Raw::new(raw);
    for f in &s.fields {
        match read_field(f, &f.key, &raw, keep_empty_rows) {
            Some(v) => {
                answers.0.insert(f.key.clone(), v);
            }
            None => {
                if f.kind != FieldType::File {
                    answers.0.remove(&f.key);
                }
            }
        }
    }
    prune(spec, &mut answers);
    check_fields(&s.fields, &mut answers.0, &mut errors, today, true);
    (answers, errors)
}

/// Checks every visible field of every step, files included (`files`: how many
/// documents are attached per file field key), before the case is submitted.
pub fn validate_all(spec: &FormSpec, answers: &Answers, files: &HashMap<String, usize>) -> FieldErrors {
    validate_all_on(spec, answers, files, today())
}

fn validate_all_on(
    spec: &FormSpec,
    answers: &Answers,
    files: &HashMap<String, usize>,
    today: NaiveDate,
) -> FieldErrors {
    let mut answers = answers.clone();
    prune(spec, &mut answers);
    let mut errors = FieldErrors::default();
    for s in &spec.steps {
        check_fields(&s.fields, &mut answers.0, &mut errors, today, false);
    }
    errors.extend(check_files(spec, None, &answers, files));
    errors
}

/// Checks the file fields of one step (or of all of them): required ones need a
/// document, single ones at most one. `files`: documents attached per field key.
pub fn check_files(
    spec: &FormSpec,
    step: Option<usize>,
    answers: &Answers,
    files: &HashMap<String, usize>,
) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for (i, f) in spec.file_fields() {
        if step.is_some_and(|s| s != i) || !visible(f, None, &answers.0) {
            continue;
        }
        let count = files.get(&f.key).copied().unwrap_or(0);
        if f.required && count == 0 {
            errors.add(
                &f.key,
                format!(
                    "Allega il documento richiesto in «{}» (formati ammessi: {}; massimo {} MB).",
                    f.label,
                    f.accept_human(),
                    f.max_mb()
                ),
            );
        } else if !f.multiple && count > 1 {
            errors.add(&f.key, format!("In «{}» puoi allegare un solo file: rimuovi quelli in più.", f.label));
        }
    }
    errors
}

/// Checks (and, with `input`, normalizes in place) the visible fields of one level.
fn check_fields(
    fields: &[FieldSpec],
    answers: &mut Map<String, Value>,
    errors: &mut FieldErrors,
    today: NaiveDate,
    input: bool,
) {
    let top = answers.clone();
    for f in fields {
        if !visible(f, None, &top) {
            continue;
        }
        if f.kind == FieldType::Group {
            check_group(f, answers, &top, errors, today, input);
            continue;
        }
        check_one(f, &f.key, answers, errors, today, input);
    }
}

fn check_group(
    f: &FieldSpec,
    answers: &mut Map<String, Value>,
    top: &Map<String, Value>,
    errors: &mut FieldErrors,
    today: NaiveDate,
    input: bool,
) {
    let mut rows = match answers.get(&f.key) {
        Some(Value::Array(rows)) => rows.clone(),
        _ => Vec::new(),
    };
    let n = rows.len();
    if n < f.group_min() {
        let what = f.item_label.as_deref().map(str::to_lowercase);
        let message = match (f.group_min(), what) {
            (1, Some(w)) => format!("Inserisci almeno un elemento in «{}» ({w}).", f.label),
            (1, None) => format!("Inserisci almeno un elemento in «{}».", f.label),
            (m, _) => format!("Inserisci almeno {m} elementi in «{}» (ora sono {n}).", f.label),
        };
        errors.add(&f.key, message);
    } else if n > f.group_max() {
        errors.add(
            &f.key,
            format!("In «{}» puoi inserire al massimo {} elementi: rimuovi quelli in più.", f.label, f.group_max()),
        );
    }
    for (i, row) in rows.iter_mut().enumerate() {
        let Some(row) = row.as_object_mut() else { continue };
        let snapshot = row.clone();
        for sub in &f.fields {
            if visible(sub, Some(&snapshot), top) {
                check_one(sub, &format!("{}.{i}.{}", f.key, sub.key), row, errors, today, input);
            }
        }
    }
    if answers.contains_key(&f.key) {
        answers.insert(f.key.clone(), Value::Array(rows));
    }
}

/// Checks `container[f.key]`, recording errors under `name`.
fn check_one(
    f: &FieldSpec,
    name: &str,
    container: &mut Map<String, Value>,
    errors: &mut FieldErrors,
    today: NaiveDate,
    input: bool,
) {
    match f.kind {
        FieldType::File | FieldType::Group => {}
        FieldType::Checkbox => {
            let ticked = container.get(&f.key).and_then(Value::as_bool).unwrap_or(false);
            if f.required && !ticked {
                errors.add(name, format!("Per continuare devi spuntare la casella «{}».", short(&f.label)));
            }
        }
        FieldType::Address => {
            let parts = container.get(&f.key).and_then(Value::as_object).cloned();
            let Some(mut parts) = parts else {
                if f.required {
                    errors.add(
                        format!("{name}.street"),
                        format!(
                            "Indica l'indirizzo in «{}»: via o piazza, numero civico, CAP, comune e provincia.",
                            f.label
                        ),
                    );
                }
                return;
            };
            for (part, label, _) in ADDRESS_PARTS {
                let v = parts.get(part).and_then(Value::as_str).unwrap_or_default().to_string();
                match check_address_part(part, &v) {
                    Ok(v) => {
                        parts.insert(part.to_string(), Value::String(v));
                    }
                    Err(e) => {
                        let message =
                            if v.is_empty() { format!("Indica {} in «{}».", article(label), f.label) } else { e };
                        errors.add(format!("{name}.{part}"), message);
                    }
                }
            }
            if input {
                container.insert(f.key.clone(), Value::Object(parts));
            }
        }
        _ => {
            let Some(v) = container.get(&f.key).and_then(Value::as_str).map(str::to_string) else {
                if f.required {
                    errors.add(name, required_message(f));
                }
                return;
            };
            match check_scalar(f, &v, today, input) {
                Ok(normal) => {
                    if input {
                        container.insert(f.key.clone(), Value::String(normal));
                    }
                }
                Err(e) => errors.add(name, e),
            }
        }
    }
}

fn article(part_label: &str) -> String {
    match part_label {
        "Indirizzo (via, piazza…)" => "la via o la piazza".into(),
        "Numero civico" => "il numero civico (scrivi SNC se non c'è)".into(),
        "CAP" => "il CAP".into(),
        "Comune" => "il comune".into(),
        _ => "la sigla della provincia".into(),
    }
}

/// A long label (a declaration) cut for a message.
fn short(label: &str) -> String {
    let label = label.trim();
    if label.chars().count() <= 80 {
        return label.to_string();
    }
    let cut: String = label.chars().take(77).collect();
    format!("{}…", cut.trim_end())
}

fn required_message(f: &FieldSpec) -> String {
    match f.kind {
        FieldType::Select => format!("Scegli una risposta per «{}».", f.label),
        FieldType::Date => format!("Indica la data in «{}», ad esempio 15/03/2024.", f.label),
        _ => format!("Compila il campo «{}»: è obbligatorio.", f.label),
    }
}

fn check_address_part(part: &str, v: &str) -> Result<String, String> {
    let v = v.trim();
    match part {
        "cap" => {
            if v.len() == 5 && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(v.to_string())
            } else {
                Err("Il CAP è formato da 5 cifre, ad esempio 24100.".into())
            }
        }
        "province" => {
            let p = v.to_uppercase();
            if p.len() == 2 && p.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(p)
            } else {
                Err("Indica la sigla della provincia con 2 lettere, ad esempio BG (Roma: RM).".into())
            }
        }
        "number" => {
            let n = v.to_uppercase();
            let ok = !n.is_empty()
                && n.chars().count() <= 12
                && n.starts_with(|c: char| c.is_ascii_digit() || n == "SNC")
                && n.chars().all(|c| c.is_ascii_alphanumeric() || "/- ".contains(c));
            if ok {
                Ok(n)
            } else {
                Err("Indica il numero civico, ad esempio 12 o 12/A; scrivi SNC se non c'è.".into())
            }
        }
        _ => {
            if v.is_empty() {
                Err("Campo obbligatorio.".into())
            } else if v.chars().count() > 120 {
                Err("Il testo è troppo lungo: al massimo 120 caratteri.".into())
            } else {
                Ok(v.to_string())
            }
        }
    }
}

/// Checks one scalar answer; returns it normalized. `input`: as typed (Italian
/// number format) rather than as stored.
fn check_scalar(f: &FieldSpec, v: &str, today: NaiveDate, input: bool) -> Result<String, String> {
    match f.kind {
        FieldType::Text | FieldType::Textarea => {
            let text: String = if f.kind == FieldType::Text {
                v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
            } else {
                v.replace("\r\n", "\n").chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect()
            };
            let n = text.chars().count();
            if n > f.max_length() {
                return Err(format!(
                    "Il testo di «{}» è troppo lungo: al massimo {} caratteri (ora sono {n}).",
                    f.label,
                    f.max_length()
                ));
            }
            Ok(text.trim().to_string())
        }
        FieldType::Number => check_number(f, v, input),
        FieldType::Date => {
            let Some(date) = parse_date(v) else {
                return Err(format!("Inserisci in «{}» una data valida nel formato GG/MM/AAAA, ad esempio 15/03/2024.", f.label));
            };
            if f.not_future && date > today {
                return Err(format!("La data in «{}» non può essere successiva a oggi: controlla giorno, mese e anno.", f.label));
            }
            if f.not_past && date < today {
                return Err(format!("La data in «{}» non può essere già passata: indica oggi o una data futura.", f.label));
            }
            Ok(date.format("%Y-%m-%d").to_string())
        }
        FieldType::Email => normalize_email(v).ok_or_else(|| "Inserisci un indirizzo e-mail valido, ad esempio nome@esempio.it.".to_string()),
        FieldType::Phone => normalize_phone(v)
            .ok_or_else(|| "Inserisci un numero di telefono valido, ad esempio 347 123 4567 oppure 035 123456.".to_string()),
        FieldType::FiscalCode => {
            let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
            normalize_fiscal_code(&compact).ok_or_else(|| {
                let n = compact.chars().count();
                if n != 16 {
                    format!("Il codice fiscale ha 16 caratteri, qui ne hai inseriti {n}: controlla di averlo scritto per intero.")
                } else {
                    "Inserisci un codice fiscale valido: 16 caratteri, controlla l'ultimo carattere di controllo.".to_string()
                }
            })
        }
        FieldType::VatNumber => normalize_vat_number(v).ok_or_else(|| {
            let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
            if digits != 11 {
                format!("La partita IVA è formata da 11 cifre, qui ne hai inserite {digits}: controlla di averla scritta per intero.")
            } else {
                "Questa partita IVA non è valida: controlla le cifre, l'ultima è una cifra di controllo.".to_string()
            }
        }),
        FieldType::Iban => normalize_iban(v).ok_or_else(|| {
            let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
            if compact.starts_with("IT") && compact.len() != 27 {
                format!(
                    "Un IBAN italiano ha 27 caratteri e inizia con IT, qui ne hai inseriti {}: copialo per intero dall'estratto conto.",
                    compact.len()
                )
            } else {
                "L'IBAN non è valido: controlla di averlo copiato senza errori (i caratteri di controllo non corrispondono).".to_string()
            }
        }),
        FieldType::Select => {
            if f.options.iter().any(|o| o.value == v) {
                Ok(v.to_string())
            } else {
                Err(format!("Scegli una delle risposte proposte per «{}».", f.label))
            }
        }
        FieldType::Address | FieldType::Checkbox | FieldType::File | FieldType::Group => Ok(v.to_string()),
    }
}

fn check_number(f: &FieldSpec, v: &str, input: bool) -> Result<String, String> {
    let example =
        if f.decimals == Some(0) { "ad esempio 12".to_string() } else { "ad esempio 12 oppure 12,50".to_string() };
    let canonical = if input { parse_italian_number(v) } else { parse_canonical_number(v) };
    let Some(canonical) = canonical else {
        return Err(format!(
            "Inserisci in «{}» solo un numero, {example}{}.",
            f.label,
            if f.decimals == Some(0) { "" } else { " (la virgola separa i decimali)" }
        ));
    };
    let decimals = canonical.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
    match f.decimals {
        Some(0) if decimals > 0 => return Err(format!("In «{}» inserisci un numero intero, senza decimali.", f.label)),
        Some(d) if decimals > d as usize => {
            return Err(format!("In «{}» puoi indicare al massimo {d} cifre dopo la virgola.", f.label))
        }
        _ => {}
    }
    let value: f64 = canonical.parse().map_err(|_| format!("Inserisci in «{}» un numero, {example}.", f.label))?;
    let unit = f.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    if let Some(min) = f.min {
        if value < min {
            return Err(format!(
                "In «{}» il valore minimo ammesso è {}{unit}.",
                f.label,
                human_number(&min.to_string())
            ));
        }
    }
    if let Some(max) = f.max {
        if value > max {
            return Err(format!(
                "In «{}» il valore massimo ammesso è {}{unit}.",
                f.label,
                human_number(&max.to_string())
            ));
        }
    }
    Ok(canonical)
}

/// `1.234,5` / `1234,5` / `1234.5` / `-3` -> `1234.5`: canonical, dot for decimals.
fn parse_italian_number(v: &str) -> Option<String> {
    let v: String = v.chars().filter(|c| !c.is_whitespace() && *c != '\'').collect();
    let v = v.strip_prefix('+').unwrap_or(&v).to_string();
    let plain = if v.contains(',') {
        if v.matches(',').count() > 1 {
            return None;
        }
        v.replace('.', "").replace(',', ".")
    } else if is_thousands(&v) {
        // "1.500": an Italian thousand separator, not 1,5.
        v.replace('.', "")
    } else {
        v
    };
    parse_canonical_number(&plain)
}

fn is_thousands(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let mut groups = digits.split('.');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    !rest.is_empty()
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && rest.iter().all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_canonical_number(v: &str) -> Option<String> {
    let (sign, digits) = match v.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", v),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int = if int.is_empty() && frac.is_some() { "0" } else { int };
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = match frac {
        Some(f) if f.is_empty() || f.len() > 10 || !f.bytes().all(|b| b.is_ascii_digit()) => return None,
        Some(f) => f.trim_end_matches('0'),
        None => "",
    };
    let sign = if int == "0" && frac.is_empty() { "" } else { sign };
    Some(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

/// `YYYY-MM-DD` (from `<input type=date>`), `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`.
fn parse_date(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    let date = if v.len() == 10 && v.as_bytes()[4] == b'-' {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?
    } else {
        let parts: Vec<&str> = v.split(['/', '-', '.']).collect();
        let [d, m, y] = parts[..] else { return None };
        if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?
    };
    use chrono::Datelike;
    (1900..=2200).contains(&date.year()).then_some(date)
}

/// `1234.5` -> `1.234,5`.
fn human_number(canonical: &str) -> String {
    let (sign, rest) = match canonical.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", canonical),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

fn format_decimal(value: f64, digits: usize) -> String {
    format!("{value:.digits$}").replace('.', ",")
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} o {last}", init.join(", ")),
    }
}

// ---------------------------------------------------------------------------
// Prefill
// ---------------------------------------------------------------------------

/// What is known of the signed-in citizen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub fiscal_code: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    /// `YYYY-MM-DD` (or `DD/MM/YYYY`).
    pub birth_date: Option<String>,
    pub birth_place: Option<String>,
    /// One line, e.g. "Via Roma 12, 24010 Valmora (BG)".
    pub address: Option<String>,
}

/// The answers the citizen's identity gives: every field (of any step) whose `prefill`
/// names something known. Put it under a draft with [`Answers::fill_from`].
pub fn prefill(spec: &FormSpec, identity: &Identity) -> Answers {
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let mut answers = Answers::default();
    for step in &spec.steps {
        for f in &step.fields {
            let Some(p) = f.prefill else { continue };
            let value = match p {
                PrefillKey::GivenName => clean(&identity.given_name),
                PrefillKey::FamilyName => clean(&identity.family_name),
                PrefillKey::FullName => {
                    let name = [clean(&identity.given_name), clean(&identity.family_name)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    (!name.is_empty()).then_some(name)
                }
                PrefillKey::FiscalCode => clean(&identity.fiscal_code).map(|c| c.to_uppercase()),
                PrefillKey::Email => clean(&identity.email),
                PrefillKey::Mobile => clean(&identity.mobile),
                PrefillKey::BirthDate => clean(&identity.birth_date).map(|d| match (f.kind, parse_date(&d)) {
                    (FieldType::Date, Some(date)) => date.format("%Y-%m-%d").to_string(),
                    (_, Some(date)) => date.format("%d/%m/%Y").to_string(),
                    (_, None) => d,
                }),
                PrefillKey::BirthPlace => clean(&identity.birth_place),
                PrefillKey::Address => clean(&identity.address),
            };
            let Some(value) = value else { continue };
            let value =
                if f.kind == FieldType::Address { Value::Object(split_address(&value)) } else { Value::String(value) };
            answers.0.insert(f.key.clone(), value);
        }
    }
    answers
}

/// "Via Roma 12, 24010 Valmora (BG)" -> its parts; whatever does not fit that shape
/// lands in `street`, for the citizen to fix.
fn split_address(line: &str) -> Map<String, Value> {
    let mut parts = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            parts.insert(k.to_string(), Value::String(v.trim().to_string()));
        }
    };
    let parsed = (|| {
        let (street_number, rest) = line.split_once(',')?;
        let (street, number) = street_number.trim().rsplit_once(' ')?;
        if !number.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let rest = rest.trim();
        let (cap, rest) = rest.split_once(' ')?;
        if cap.len() != 5 || !cap.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (town, province) = match rest.trim().strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
            Some((town, p)) => (town.trim(), p.trim()),
            None => (rest.trim(), ""),
        };
        Some((street, number, cap, town, province))
    })();
    match parsed {
        Some((street, number, cap, town, province)) => {
            put("street", street);
            put("number", number);
            put("cap", cap);
            put("municipality", town);
            put("province", &province.to_uppercase());
        }
        None => put("street", line),
    }
    parts
}

// ---------------------------------------------------------------------------
// View models
// ---------------------------------------------------------------------------

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
    pub message: String,
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
    pub label: String,
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
    pub hint: String,
    pub hint_id: String,
    pub error: String,
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
    pub add_label: String,
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
    pub condition: String,
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
    let mut fields = Vec::new();
    for f in &s.fields {
        let shown = visible(f, None, &answers.0);
        let controller_here = f.show_if.as_ref().is_some_and(|c| same_step.contains(c.field.as_str()));
        if !shown && !controller_here {
            continue;
        }
        fields.push(field_view(
            spec,
            f,
            &f.key,
            answers.0.get(&f.key),
            None,
            &answers.0,
            errors,
            controller_here,
            shown,
        ));
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
    if !f.error.is_empty() {
        let id = if f.kind == "select" && f.radio {
            f.options.first().map(|o| o.id.clone()).unwrap_or_else(|| f.id.clone())
        } else {
            f.id.clone()
        };
        out.push(ErrorLink { id, message: f.error.clone() });
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

/// `row`: the row's answers, for a group's field.
#[allow(clippy::too_many_arguments)]
fn field_view(
    spec: &FormSpec,
    f: &FieldSpec,
    name: &str,
    value: Option<&Value>,
    row: Option<(&str, &Map<String, Value>, &FieldSpec)>,
    top: &Map<String, Value>,
    errors: &FieldErrors,
    conditional: bool,
    shown: bool,
) -> FieldView {
    let id = html_id(name);
    let error = errors.get(name).unwrap_or_default().to_string();
    let hint = match f.kind {
        FieldType::File if f.hint.is_empty() => {
            format!(
                "Formati ammessi: {}; dimensione massima {} MB{}.",
                f.accept_human(),
                f.max_mb(),
                if f.multiple { " per file" } else { "" }
            )
        }
        FieldType::File => {
            format!("{} Formati ammessi: {}; dimensione massima {} MB.", f.hint, f.accept_human(), f.max_mb())
        }
        FieldType::Date if f.hint.is_empty() => "Ad esempio 15/03/2024.".to_string(),
        _ => f.hint.clone(),
    };
    let hint_id = if hint.is_empty() { String::new() } else { format!("{id}-hint") };
    let error_id = if error.is_empty() { String::new() } else { format!("{id}-error") };
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let (input_type, inputmode) = match f.kind {
        FieldType::Email => ("email", "email"),
        FieldType::Phone => ("tel", "tel"),
        FieldType::Date => ("date", ""),
        FieldType::Number if f.decimals == Some(0) && f.min.is_some_and(|m| m >= 0.0) => ("text", "numeric"),
        FieldType::Number => ("text", "decimal"),
        _ => ("text", ""),
    };
    let mut v = FieldView {
        key: f.key.clone(),
        name: name.to_string(),
        id: id.clone(),
        label: f.label.clone(),
        kind: f.kind.as_str().to_string(),
        input_type: input_type.to_string(),
        inputmode: inputmode.to_string(),
        autocomplete: f.prefill.map(|p| p.autocomplete().to_string()).unwrap_or_default(),
        value: if f.kind == FieldType::Number && !text.is_empty() && parse_canonical_number(&text).is_some() {
            text.replace('.', ",")
        } else {
            text
        },
        checked: matches!(value, Some(Value::Bool(true))),
        required: f.required,
        describedby: describedby(&hint_id, &error_id),
        hint,
        hint_id,
        error,
        error_id,
        maxlength: if matches!(f.kind, FieldType::Text | FieldType::Textarea) { f.max_length() } else { 0 },
        unit: f.unit.clone().unwrap_or_default(),
        radio: f.radio,
        visible: shown,
        ..FieldView::default()
    };
    if v.autocomplete.is_empty() && matches!(f.kind, FieldType::FiscalCode | FieldType::Iban | FieldType::VatNumber) {
        v.autocomplete = "off".into();
    }
    if let (true, Some(cond)) = (conditional, &f.show_if) {
        let controller_name = match row {
            Some((prefix, _, group)) if group.fields.iter().any(|s| s.key == cond.field) => {
                format!("{prefix}.{}", cond.field)
            }
            _ => cond.field.clone(),
        };
        v.show_if_name = controller_name;
        v.show_if_values = serde_json::to_string(&cond.values()).unwrap_or_else(|_| "[]".into());
        v.condition = condition_text(spec, cond);
    }
    match f.kind {
        FieldType::Select => {
            v.options = f
                .options
                .iter()
                .enumerate()
                .map(|(i, o)| OptionView {
                    value: o.value.clone(),
                    label: o.label.clone(),
                    selected: v.value == o.value,
                    id: format!("{id}-{i}"),
                })
                .collect();
        }
        FieldType::Address => {
            let parts = value.and_then(Value::as_object);
            let prefilled = f.prefill == Some(PrefillKey::Address);
            v.parts = ADDRESS_PARTS
                .iter()
                .map(|(part, label, autocomplete)| {
                    let pname = format!("{name}.{part}");
                    let pid = html_id(&pname);
                    let error = errors.get(&pname).unwrap_or_default().to_string();
                    let error_id = if error.is_empty() { String::new() } else { format!("{pid}-error") };
                    let hint = if *part == "number" { "Scrivi SNC se non c'è." } else { "" };
                    let hint_id = if hint.is_empty() { String::new() } else { format!("{pid}-hint") };
                    FieldView {
                        key: part.to_string(),
                        name: pname,
                        id: pid,
                        label: label.to_string(),
                        kind: "part".into(),
                        input_type: "text".into(),
                        inputmode: if *part == "cap" { "numeric".into() } else { String::new() },
                        autocomplete: if prefilled { autocomplete.to_string() } else { "off".into() },
                        value: parts.and_then(|p| p.get(*part)).and_then(Value::as_str).unwrap_or_default().to_string(),
                        required: f.required,
                        describedby: describedby(&hint_id, &error_id),
                        hint: hint.to_string(),
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
        FieldType::File => {
            v.accept = f.accept_attr();
            v.accept_human = f.accept_human();
            v.multiple = f.multiple;
            v.max_mb = f.max_mb();
        }
        FieldType::Group => {
            let empty = Vec::new();
            let rows = value.and_then(Value::as_array).unwrap_or(&empty);
            let count = rows.len().max(f.group_min());
            let empty_row = Map::new();
            let siblings: HashSet<&str> = f.fields.iter().map(|s| s.key.as_str()).collect();
            let group_step = spec.locate(&f.key).map(|l| l.step);
            v.rows = (0..count)
                .map(|i| {
                    let r = rows.get(i).and_then(Value::as_object).unwrap_or(&empty_row);
                    let prefix = format!("{name}.{i}");
                    let fields = f
                        .fields
                        .iter()
                        .filter_map(|sub| {
                            let shown = visible(sub, Some(r), top);
                            let here = sub.show_if.as_ref().is_some_and(|c| {
                                siblings.contains(c.field.as_str())
                                    || spec
                                        .locate(&c.field)
                                        .is_some_and(|l| Some(l.step) == group_step && l.group.is_none())
                            });
                            (shown || here).then(|| {
                                field_view(
                                    spec,
                                    sub,
                                    &format!("{prefix}.{}", sub.key),
                                    r.get(&sub.key),
                                    Some((&prefix, r, f)),
                                    top,
                                    errors,
                                    here,
                                    shown,
                                )
                            })
                        })
                        .collect();
                    RowView {
                        index: i,
                        number: i + 1,
                        legend: f.row_legend(i),
                        id: html_id(&prefix),
                        fields,
                        can_remove: count > f.group_min(),
                        remove_action: format!("remove:{}:{i}", f.key),
                    }
                })
                .collect();
            v.required = f.group_min() > 0;
            v.row_count = count;
            v.rows_name = format!("{name}._rows");
            v.can_add = count < f.group_max();
            v.add_action = format!("add:{}", f.key);
            v.add_label = f.add_label.clone().unwrap_or_else(|| match &f.item_label {
                Some(item) => format!("Aggiungi {}", item.to_lowercase()),
                None => "Aggiungi".to_string(),
            });
        }
        _ => {}
    }
    v
}

fn condition_text(spec: &FormSpec, cond: &ShowIf) -> String {
    let Some(target) = spec.field(&cond.field) else { return String::new() };
    let label_of = |v: &str| {
        target.options.iter().find(|o| o.value == v).map(|o| o.label.clone()).unwrap_or_else(|| v.to_string())
    };
    match (&cond.equals, target.kind) {
        (Some(Expected::Bool(true)) | None, FieldType::Checkbox) => {
            format!("Da compilare solo se hai spuntato «{}».", short(&target.label))
        }
        (Some(Expected::Bool(false)), _) => {
            format!("Da compilare solo se non hai spuntato «{}».", short(&target.label))
        }
        (Some(Expected::Text(t)), _) => {
            format!("Da compilare solo se in «{}» hai risposto «{}».", target.label, label_of(t))
        }
        (None, _) if !cond.any_of.is_empty() => {
            let labels: Vec<String> = cond.any_of.iter().map(|v| format!("«{}»", label_of(v))).collect();
            format!("Da compilare solo se in «{}» hai risposto {}.", target.label, or_list(&labels))
        }
        (None, _) => format!("Da compilare solo se hai compilato «{}».", target.label),
        (Some(Expected::Bool(true)), _) => String::new(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SummarySection {
    pub title: String,
    pub rows: Vec<SummaryRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub key: String,
    pub label: String,
    pub value: String,
}

/// The answers as people read them, one section per step (confirmation page, PDF
/// receipt). Hidden and unanswered optional fields are left out. `files`: the names
/// of the documents attached per file field key.
pub fn summary(spec: &FormSpec, answers: &Answers, files: &HashMap<String, Vec<String>>) -> Vec<SummarySection> {
    let mut answers = answers.clone();
    prune(spec, &mut answers);
    let mut sections = Vec::new();
    for s in &spec.steps {
        let mut rows = Vec::new();
        for f in &s.fields {
            if !visible(f, None, &answers.0) {
                continue;
            }
            match f.kind {
                FieldType::File => {
                    let names = files.get(&f.key).filter(|n| !n.is_empty());
                    let value = names.map(|n| n.join(", ")).unwrap_or_else(|| "Nessun file allegato".into());
                    rows.push(SummaryRow { key: f.key.clone(), label: f.label.clone(), value });
                }
                FieldType::Group => {
                    let empty = Vec::new();
                    let items = answers.0.get(&f.key).and_then(Value::as_array).unwrap_or(&empty);
                    if items.is_empty() {
                        rows.push(SummaryRow { key: f.key.clone(), label: f.label.clone(), value: "Nessuno".into() });
                    }
                    for (i, item) in items.iter().enumerate() {
                        let Some(item) = item.as_object() else { continue };
                        for sub in &f.fields {
                            if let Some(value) = human_value(sub, item.get(&sub.key)) {
                                rows.push(SummaryRow {
                                    key: format!("{}.{i}.{}", f.key, sub.key),
                                    label: format!("{} – {}", f.row_legend(i), sub.label),
                                    value,
                                });
                            }
                        }
                    }
                }
                _ => {
                    if let Some(value) = human_value(f, answers.0.get(&f.key)) {
                        rows.push(SummaryRow { key: f.key.clone(), label: f.label.clone(), value });
                    }
                }
            }
        }
        if !rows.is_empty() {
            sections.push(SummarySection { title: s.title.clone(), rows });
        }
    }
    sections
}

/// One answer as people read it; None when there is none.
fn human_value(f: &FieldSpec, value: Option<&Value>) -> Option<String> {
    match (f.kind, value) {
        (FieldType::Checkbox, v) => Some(if matches!(v, Some(Value::Bool(true))) { "Sì" } else { "No" }.into()),
        (FieldType::Address, Some(Value::Object(p))) => {
            let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().trim().to_string();
            let street =
                [get("street"), get("number")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            let town =
                [get("cap"), get("municipality")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            let province = get("province");
            let town = if province.is_empty() { town } else { format!("{town} ({province})") };
            let line = [street, town].into_iter().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(", ");
            (!line.is_empty()).then_some(line)
        }
        (_, Some(Value::String(s))) if !s.is_empty() => Some(match f.kind {
            FieldType::Date => parse_date(s).map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|| s.clone()),
            FieldType::Select => {
                f.options.iter().find(|o| &o.value == s).map(|o| o.label.clone()).unwrap_or_else(|| s.clone())
            }
            FieldType::Number => {
                let n = if parse_canonical_number(s).is_some() { human_number(s) } else { s.clone() };
                match &f.unit {
                    Some(u) => format!("{n} {u}"),
                    None => n,
                }
            }
            _ => s.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(toml_text: &str) -> FormSpec {
        let spec: FormSpec = toml::from_str(toml_text).expect("parses");
        spec.check().expect("checks");
        spec
    }

    fn check_err(toml_text: &str) -> String {
        let spec: FormSpec = toml::from_str(toml_text).expect("parses");
        spec.check().expect_err("should be refused")
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    fn one_field(field: &str) -> FormSpec {
        form(&format!("[[steps]]\ntitle = \"Dati\"\nfields = [ {field} ]\n"))
    }

    /// The answer and the error of a one-field form given `value`.
    fn try_value(field: &str, value: &str) -> (Option<Value>, Option<String>) {
        let spec = one_field(field);
        let key = spec.steps[0].fields[0].key.clone();
        let (answers, errors) = parse_step_on(&spec, 0, &pairs(&[(&key, value)]), &Answers::default(), day());
        (answers.get(&key).cloned(), errors.get(&key).map(str::to_string))
    }

    fn ok(field: &str, value: &str) -> String {
        match try_value(field, value) {
            (Some(Value::String(v)), None) => v,
            other => panic!("{value:?} should be accepted, got {other:?}"),
        }
    }

    fn bad(field: &str, value: &str) -> String {
        match try_value(field, value) {
            (_, Some(e)) => e,
            other => panic!("{value:?} should be refused, got {other:?}"),
        }
    }

    const ACCESS: &str = r#"
[[steps]]
title = "Richiedente"
fields = [
  { key = "nome", label = "Nome e cognome", type = "text", required = true, prefill = "full_name" },
  { key = "cf", label = "Codice fiscale", type = "fiscal_code", required = true, prefill = "fiscal_code" },
  { key = "per_conto", label = "Presenti la richiesta", type = "select", radio = true, required = true, options = [
      { value = "proprio", label = "Per te stesso" },
      { value = "altri", label = "Per conto di altri" },
  ] },
  { key = "delegante", label = "Nome del delegante", type = "text", required = true, show_if = { field = "per_conto", equals = "altri" } },
  { key = "delega", label = "Delega firmata", type = "file", accept = ["pdf", "p7m"], required = true, show_if = { field = "per_conto", equals = "altri" } },
]

[[steps]]
title = "Richiesta"
fields = [
  { key = "nascita", label = "Data dell'atto", type = "date", not_future = true },
  { key = "copie", label = "Numero di copie", type = "number", min = 1, max = 10, decimals = 0 },
  { key = "residenza", label = "Indirizzo", type = "address", required = true, prefill = "address" },
  { key = "urgente", label = "È urgente", type = "checkbox" },
  { key = "motivo_urgenza", label = "Perché è urgente", type = "textarea", required = true, show_if = { field = "urgente", equals = true } },
  { key = "dichiaro", label = "Dichiaro di aver letto l'informativa", type = "checkbox", required = true },
]
"#;

    const MENSA: &str = r#"
[[steps]]
title = "Figli"
fields = [
  { key = "figli", label = "Figli da iscrivere", type = "group", min = 1, max = 3, item_label = "Figlio", add_label = "Aggiungi un figlio", fields = [
      { key = "nome_figlio", label = "Nome", type = "text", required = true },
      { key = "cf_figlio", label = "Codice fiscale", type = "fiscal_code", required = true },
      { key = "dieta", label = "Dieta speciale", type = "checkbox" },
      { key = "dieta_tipo", label = "Quale dieta", type = "text", required = true, show_if = { field = "dieta", equals = true } },
  ] },
  { key = "iban", label = "IBAN per i rimborsi", type = "iban" },
]
"#;

    #[test]
    fn the_generic_form_checks_and_asks_the_subject() {
        let spec = FormSpec::generic();
        spec.check().unwrap();
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
    fn fiscal_codes_with_omocodia() {
        let f = r#"{ key = "cf", label = "Codice fiscale", type = "fiscal_code" }"#;
        assert_eq!(ok(f, " rssmra85t10a562s "), "RSSMRA85T10A562S");
        assert_eq!(ok(f, "RSS MRA 85T10 A562S"), "RSSMRA85T10A562S");
        assert_eq!(ok(f, "RSSMRA85T10A56NH"), "RSSMRA85T10A56NH", "omocodia, one letter");
        assert_eq!(ok(f, "RSSMRA85T10A5SNT"), "RSSMRA85T10A5SNT", "omocodia, two letters");
        assert_eq!(ok(f, "BNCLRA90A41H501F"), "BNCLRA90A41H501F");
        assert!(bad(f, "RSSMRA85T10A562T").contains("ultimo carattere di controllo"));
        assert!(bad(f, "RSSMRA85T10A56NS").contains("ultimo carattere"), "omocodia with the old check");
        assert!(bad(f, "RSSMRA85T10").contains("ne hai inseriti 11"));
    }

    #[test]
    fn partita_iva_and_iban() {
        let vat = r#"{ key = "piva", label = "Partita IVA", type = "vat_number" }"#;
        assert_eq!(ok(vat, "IT01114601006"), "01114601006");
        assert!(bad(vat, "01114601007").contains("cifra di controllo"));
        assert!(bad(vat, "0111460100").contains("11 cifre"));
        let iban = r#"{ key = "iban", label = "IBAN", type = "iban" }"#;
        assert_eq!(ok(iban, "IT60 X054 2811 1010 0000 0123 456"), "IT60X0542811101000000123456");
        assert!(bad(iban, "IT60X0542811101000000123457").contains("non è valido"));
        assert!(bad(iban, "IT60X05428111010000001234").contains("27 caratteri"));
    }

    #[test]
    fn emails_and_phones_reuse_the_shared_normalizers() {
        let email = r#"{ key = "email", label = "E-mail", type = "email" }"#;
        assert_eq!(ok(email, "Mario.Rossi@Example.IT"), "mario.rossi@example.it");
        assert!(bad(email, "mario@").contains("nome@esempio.it"));
        let phone = r#"{ key = "tel", label = "Telefono", type = "phone" }"#;
        assert_eq!(ok(phone, "347 123 4567"), "+393471234567");
        assert_eq!(ok(phone, "035 123456"), "+39035123456");
        assert!(bad(phone, "123").contains("347 123 4567"));
    }

    #[test]
    fn numbers_in_italian() {
        let any = r#"{ key = "n", label = "Importo", type = "number", unit = "€" }"#;
        assert_eq!(ok(any, "1.234,50"), "1234.5");
        assert_eq!(ok(any, "1234,5"), "1234.5");
        assert_eq!(ok(any, "1.500"), "1500", "a thousand separator");
        assert_eq!(ok(any, "2.5"), "2.5");
        assert_eq!(ok(any, "007"), "7");
        assert!(bad(any, "dieci").contains("la virgola separa i decimali"));
        assert!(bad(any, "1,2,3").contains("solo un numero"));
        let whole = r#"{ key = "n", label = "Copie", type = "number", min = 1, max = 10, decimals = 0 }"#;
        assert_eq!(ok(whole, "3"), "3");
        assert!(bad(whole, "2,5").contains("numero intero"));
        assert!(bad(whole, "0").contains("minimo ammesso è 1"));
        assert!(bad(whole, "11").contains("massimo ammesso è 10"));
        let cents = r#"{ key = "n", label = "Importo", type = "number", decimals = 2, max = 1500 }"#;
        assert!(bad(cents, "1,234").contains("al massimo 2 cifre"));
        assert!(bad(cents, "2.000").contains("1.500"), "the bound in Italian");
        // Stored values are canonical and pass again unchanged.
        let spec = one_field(cents);
        let answers = Answers::from_value(serde_json::json!({ "n": "123.45" }));
        assert!(validate_all_on(&spec, &answers, &HashMap::new(), day()).is_empty());
    }

    #[test]
    fn dates_from_the_picker_or_typed() {
        let f = r#"{ key = "d", label = "Data di nascita", type = "date", not_future = true }"#;
        assert_eq!(ok(f, "1985-12-10"), "1985-12-10");
        assert_eq!(ok(f, "10/12/1985"), "1985-12-10");
        assert_eq!(ok(f, "1/2/1985"), "1985-02-01");
        assert!(bad(f, "31/02/2024").contains("GG/MM/AAAA"));
        assert!(bad(f, "domani").contains("GG/MM/AAAA"));
        assert!(bad(f, "16/06/2025").contains("successiva a oggi"));
        let future = r#"{ key = "d", label = "Data dell'evento", type = "date", not_past = true }"#;
        assert_eq!(ok(future, "15/06/2025"), "2025-06-15", "today is fine");
        assert!(bad(future, "14/06/2025").contains("già passata"));
    }

    #[test]
    fn text_lengths_and_required_fields() {
        let f = r#"{ key = "t", label = "Oggetto", type = "text", max_length = 5, required = true }"#;
        assert_eq!(ok(f, "  ciao "), "ciao");
        assert!(bad(f, "troppo lungo").contains("al massimo 5 caratteri"));
        assert!(bad(f, "   ").contains("«Oggetto»: è obbligatorio"));
        let s = r#"{ key = "s", label = "Tipo", type = "select", required = true, options = [ { value = "a", label = "A" } ] }"#;
        assert!(bad(s, "").contains("Scegli una risposta"));
        assert!(bad(s, "zzz").contains("Scegli una delle risposte"));
        assert_eq!(ok(s, "a"), "a");
    }

    #[test]
    fn hidden_fields_are_neither_checked_nor_kept() {
        let spec = form(ACCESS);
        let raw = pairs(&[
            ("nome", "Mario Rossi"),
            ("cf", "RSSMRA85T10A562S"),
            ("per_conto", "proprio"),
            ("delegante", "Giulia Bianchi"),
        ]);
        let (answers, errors) = parse_step_on(&spec, 0, &raw, &Answers::default(), day());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(answers.get("delegante").is_none(), "hidden: dropped");
        assert!(!spec.is_shown("delega", &answers) && spec.is_shown("cf", &answers));
        let mut counts = HashMap::new();
        assert!(check_files(&spec, Some(0), &answers, &counts).is_empty(), "hidden required file");

        let raw = pairs(&[("nome", "Mario Rossi"), ("cf", "RSSMRA85T10A562S"), ("per_conto", "altri")]);
        let (answers, errors) = parse_step_on(&spec, 0, &raw, &Answers::default(), day());
        assert_eq!(errors.get("delegante"), Some("Compila il campo «Nome del delegante»: è obbligatorio."));
        let file_errors = check_files(&spec, Some(0), &answers, &counts);
        assert!(file_errors.get("delega").unwrap().contains("PDF, P7M"));
        counts.insert("delega".to_string(), 1);
        assert!(check_files(&spec, Some(0), &answers, &counts).is_empty());

        // A later change hides the answer given before.
        let mut previous = answers.clone();
        previous.0.insert("delegante".into(), Value::String("Giulia Bianchi".into()));
        let raw = pairs(&[("nome", "Mario Rossi"), ("cf", "RSSMRA85T10A562S"), ("per_conto", "proprio")]);
        let (answers, _) = parse_step_on(&spec, 0, &raw, &previous, day());
        assert!(answers.get("delegante").is_none());
    }

    #[test]
    fn checkboxes_show_fields_and_required_ones_must_be_ticked() {
        let spec = form(ACCESS);
        let address = [
            ("residenza.street", "Via Roma"),
            ("residenza.number", "12/a"),
            ("residenza.cap", "24010"),
            ("residenza.municipality", "Valmora"),
            ("residenza.province", "bg"),
        ];
        let mut raw = pairs(&address);
        raw.extend(pairs(&[("motivo_urgenza", "non serve")]));
        let (answers, errors) = parse_step_on(&spec, 1, &raw, &Answers::default(), day());
        assert_eq!(answers.get("urgente"), Some(&Value::Bool(false)));
        assert!(answers.get("motivo_urgenza").is_none());
        assert!(errors.get("dichiaro").unwrap().starts_with("Per continuare devi spuntare la casella"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(answers.get("residenza").unwrap()["province"], "BG");
        assert_eq!(answers.get("residenza").unwrap()["number"], "12/A");

        let mut raw = pairs(&address);
        raw.extend(pairs(&[("urgente", "1"), ("dichiaro", "1")]));
        let (answers, errors) = parse_step_on(&spec, 1, &raw, &Answers::default(), day());
        assert_eq!(answers.get("dichiaro"), Some(&Value::Bool(true)));
        assert!(errors.get("motivo_urgenza").is_some());
        assert_eq!(errors.len(), 1, "{errors:?}");
    }

    #[test]
    fn addresses_are_checked_part_by_part() {
        let spec = form(ACCESS);
        let raw = pairs(&[
            ("residenza.street", "Via Roma"),
            ("residenza.cap", "2401"),
            ("residenza.province", "Bergamo"),
            ("dichiaro", "1"),
        ]);
        let (_, errors) = parse_step_on(&spec, 1, &raw, &Answers::default(), day());
        assert!(errors.get("residenza.cap").unwrap().contains("5 cifre"));
        assert!(errors.get("residenza.province").unwrap().contains("2 lettere"));
        assert!(errors.get("residenza.number").unwrap().contains("SNC"));
        assert!(errors.get("residenza.municipality").unwrap().contains("il comune"));
        let (_, errors) = parse_step_on(&spec, 1, &pairs(&[("dichiaro", "1")]), &Answers::default(), day());
        assert!(errors.get("residenza.street").unwrap().contains("via o piazza"));
    }

    #[test]
    fn groups_read_rows_and_drop_empty_ones() {
        let spec = form(MENSA);
        let raw = pairs(&[
            ("figli._rows", "3"),
            ("figli.0.nome_figlio", "Luca"),
            ("figli.0.cf_figlio", "rssmra85t10a562s"),
            ("figli.1.nome_figlio", ""),
            ("figli.1.cf_figlio", ""),
            ("figli.2.nome_figlio", "Anna"),
            ("figli.2.cf_figlio", "XXX"),
            ("figli.2.dieta", "1"),
            ("iban", "IT60X0542811101000000123456"),
        ]);
        let (answers, errors) = parse_step_on(&spec, 0, &raw, &Answers::default(), day());
        let rows = answers.get("figli").unwrap().as_array().unwrap();
        assert_eq!(rows.len(), 2, "the empty row is dropped");
        assert_eq!(rows[0]["cf_figlio"], "RSSMRA85T10A562S");
        assert_eq!(rows[0]["dieta"], false);
        assert!(errors.get("figli.1.cf_figlio").unwrap().contains("16 caratteri"));
        assert!(errors.get("figli.1.dieta_tipo").unwrap().contains("Quale dieta"));
        assert!(errors.get("figli.0.dieta_tipo").is_none(), "hidden in row 0");
        assert_eq!(errors.len(), 2, "{errors:?}");

        let (_, errors) = parse_step_on(&spec, 0, &pairs(&[("figli._rows", "1")]), &Answers::default(), day());
        assert!(errors.get("figli").unwrap().contains("almeno un elemento"));
        // Rows beyond max are not read.
        let many: Vec<(String, String)> =
            (0..10).map(|i| (format!("figli.{i}.nome_figlio"), "X".to_string())).collect();
        let (answers, _) = parse_step_on(&spec, 0, &many, &Answers::default(), day());
        assert_eq!(answers.get("figli").unwrap().as_array().unwrap().len(), 3);
    }

    #[test]
    fn row_numbers_a_row_cannot_have_are_ignored() {
        // Crafted names once overflowed the row count (issue 10, symptom 9).
        let spec = form(MENSA);
        for name in ["figli.18446744073709551615.nome_figlio", "figli.99999999999999999999.x", "figli.3.nome_figlio"] {
            let raw = pairs(&[(name, "Luca"), ("figli._rows", "18446744073709551615")]);
            let (answers, _) = parse_step_on(&spec, 0, &raw, &Answers::default(), day());
            assert!(answers.get("figli").unwrap().as_array().unwrap().len() <= 3, "{name}");
        }
    }

    #[test]
    fn group_actions_add_and_remove_rows() {
        let spec = form(MENSA);
        assert_eq!(parse_action(&pairs(&[("_action", "add:figli")])), Some(Action::Add { group: "figli".into() }));
        assert_eq!(
            parse_action(&pairs(&[("_action", "remove:figli:1")])),
            Some(Action::Remove { group: "figli".into(), index: 1 })
        );
        assert_eq!(parse_action(&pairs(&[("_action", "remove:figli:x")])), None);
        assert_eq!(parse_action(&pairs(&[("_action", "next")])), None);
        assert_eq!(parse_action(&pairs(&[("figli.0.nome_figlio", "x")])), None);

        // An add keeps the (still empty) rows on screen.
        let raw = pairs(&[("figli.0.nome_figlio", ""), ("figli.0.cf_figlio", ""), ("_action", "add:figli")]);
        let (mut answers, _) = parse_step_on(&spec, 0, &raw, &Answers::default(), day());
        let action = parse_action(&raw).unwrap();
        assert!(apply_action(&spec, 0, &mut answers, &action));
        assert_eq!(answers.get("figli").unwrap().as_array().unwrap().len(), 2);
        assert!(apply_action(&spec, 0, &mut answers, &action));
        assert!(!apply_action(&spec, 0, &mut answers, &action), "max = 3");
        let view = step_view(&spec, 0, &answers, &FieldErrors::default());
        let group = &view.fields[0];
        assert_eq!(group.rows.len(), 3);
        assert!(!group.can_add);
        assert_eq!(group.rows[2].legend, "Figlio 3");
        assert_eq!(group.rows[2].fields[0].name, "figli.2.nome_figlio");
        assert_eq!(group.rows[2].remove_action, "remove:figli:2");

        let mut answers = Answers::from_value(
            serde_json::json!({ "figli": [ { "nome_figlio": "Luca" }, { "nome_figlio": "Anna" } ] }),
        );
        assert!(apply_action(&spec, 0, &mut answers, &Action::Remove { group: "figli".into(), index: 0 }));
        assert_eq!(answers.get("figli").unwrap(), &serde_json::json!([ { "nome_figlio": "Anna" } ]));
        assert!(!apply_action(&spec, 0, &mut answers, &Action::Remove { group: "figli".into(), index: 5 }));
        assert!(!apply_action(&spec, 0, &mut answers, &Action::Add { group: "iban".into() }), "not a group");
        assert!(!apply_action(&spec, 1, &mut answers, &Action::Add { group: "figli".into() }), "no such step");
    }

    #[test]
    fn validate_all_checks_every_step_and_the_files() {
        let spec = form(ACCESS);
        let answers = Answers::from_value(serde_json::json!({
            "nome": "Mario Rossi", "cf": "RSSMRA85T10A562S", "per_conto": "altri", "delegante": "Giulia Bianchi",
            "residenza": { "street": "Via Roma", "number": "12", "cap": "24010", "municipality": "Valmora", "province": "BG" },
            "urgente": false, "dichiaro": true,
        }));
        let mut files = HashMap::new();
        let errors = validate_all_on(&spec, &answers, &files, day());
        assert_eq!(errors.0.keys().collect::<Vec<_>>(), ["delega"]);
        files.insert("delega".to_string(), 1);
        assert!(validate_all_on(&spec, &answers, &files, day()).is_empty());
        files.insert("delega".to_string(), 2);
        assert!(validate_all_on(&spec, &answers, &files, day()).get("delega").unwrap().contains("un solo file"));

        let mut broken = answers.clone();
        broken.0.insert("cf".into(), Value::String("RSSMRA85T10A562T".into()));
        broken.0.remove("dichiaro");
        let errors = validate_all_on(&spec, &broken, &HashMap::from([("delega".to_string(), 1)]), day());
        assert_eq!(errors.0.keys().collect::<Vec<_>>(), ["cf", "dichiaro"]);
    }

    #[test]
    fn uploads_are_checked_by_extension_and_size() {
        let spec = form(ACCESS);
        let delega = spec.field("delega").unwrap();
        assert!(delega.check_upload("Delega.PDF", 1000).is_ok());
        assert!(delega.check_upload("delega.pdf.p7m", 1000).is_ok());
        let e = delega.check_upload("delega.docx", 1000).unwrap_err();
        assert!(e.contains("carica un file PDF o P7M"), "{e}");
        let e = delega.check_upload("delega.pdf", 11 * 1024 * 1024).unwrap_err();
        assert!(e.contains("(11,0 MB)") && e.contains("massima è 10 MB"), "{e}");
        assert!(delega.check_upload("senza-estensione", 10).is_err());
    }

    #[test]
    fn prefill_from_the_identity() {
        let spec = form(ACCESS);
        let identity = Identity {
            given_name: Some("Mario".into()),
            family_name: Some("Rossi".into()),
            fiscal_code: Some("rssmra85t10a562s".into()),
            address: Some("Via Roma 12, 24010 Valmora (BG)".into()),
            ..Identity::default()
        };
        let answers = prefill(&spec, &identity);
        assert_eq!(answers.text("nome").as_deref(), Some("Mario Rossi"));
        assert_eq!(answers.text("cf").as_deref(), Some("RSSMRA85T10A562S"));
        assert_eq!(
            answers.get("residenza").unwrap(),
            &serde_json::json!({ "street": "Via Roma", "number": "12", "cap": "24010", "municipality": "Valmora", "province": "BG" })
        );
        let odd = prefill(&spec, &Identity { address: Some("Località Prati".into()), ..Identity::default() });
        assert_eq!(odd.get("residenza").unwrap(), &serde_json::json!({ "street": "Località Prati" }));
        assert!(odd.get("nome").is_none());

        let generic = prefill(
            &FormSpec::generic(),
            &Identity {
                mobile: Some("+393471234567".into()),
                email: Some("m@example.it".into()),
                ..Identity::default()
            },
        );
        assert_eq!(generic.text("phone").as_deref(), Some("+393471234567"));
        assert_eq!(generic.text("email").as_deref(), Some("m@example.it"));

        // A draft keeps what the citizen changed.
        let mut draft = Answers::from_value(serde_json::json!({ "nome": "Mario Rossi Bianchi" }));
        draft.fill_from(&answers);
        assert_eq!(draft.text("nome").as_deref(), Some("Mario Rossi Bianchi"));
        assert_eq!(draft.text("cf").as_deref(), Some("RSSMRA85T10A562S"));
    }

    #[test]
    fn the_step_view_wires_labels_hints_and_errors() {
        let spec = form(ACCESS);
        let answers = Answers::from_value(serde_json::json!({ "per_conto": "proprio" }));
        let mut errors = FieldErrors::default();
        errors.add("cf", "Inserisci un codice fiscale valido.");
        errors.add("per_conto", "Scegli una risposta.");
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
            delega.condition,
            "Da compilare solo se in «Presenti la richiesta» hai risposto «Per conto di altri»."
        );
        assert_eq!(delega.accept, ".pdf,.p7m");
        assert!(delega.hint.contains("PDF, P7M") && delega.describedby == "f-delega-hint");
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
        errors.add("residenza.number", "Indica il numero civico.");
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
        assert_eq!(group.add_label, "Aggiungi un figlio");
        assert_eq!(group.rows_name, "figli._rows");
        let dieta_tipo = group.rows[0].fields.iter().find(|f| f.key == "dieta_tipo").unwrap();
        assert_eq!(dieta_tipo.show_if_name, "figli.0.dieta");
        assert_eq!(dieta_tipo.show_if_values, r#"["true"]"#, "as the script reads a checkbox");
        assert!(view.has_groups);
    }

    #[test]
    fn the_summary_reads_like_people_write() {
        let spec = form(ACCESS);
        let answers = Answers::from_value(serde_json::json!({
            "nome": "Mario Rossi", "cf": "RSSMRA85T10A562S", "per_conto": "altri", "delegante": "Giulia Bianchi",
            "nascita": "2024-03-05", "copie": "2",
            "residenza": { "street": "Via Roma", "number": "12", "cap": "24010", "municipality": "Valmora", "province": "BG" },
            "urgente": false, "motivo_urgenza": "stale", "dichiaro": true,
        }));
        let files = HashMap::from([("delega".to_string(), vec!["delega.pdf".to_string(), "ci.pdf".to_string()])]);
        let sections = summary(&spec, &answers, &files);
        assert_eq!(sections.len(), 2);
        let all: HashMap<&str, &str> =
            sections.iter().flat_map(|s| s.rows.iter().map(|r| (r.label.as_str(), r.value.as_str()))).collect();
        assert_eq!(all["Presenti la richiesta"], "Per conto di altri");
        assert_eq!(all["Delega firmata"], "delega.pdf, ci.pdf");
        assert_eq!(all["Data dell'atto"], "05/03/2024");
        assert_eq!(all["Indirizzo"], "Via Roma 12, 24010 Valmora (BG)");
        assert_eq!(all["È urgente"], "No");
        assert_eq!(all["Dichiaro di aver letto l'informativa"], "Sì");
        assert!(!all.contains_key("Perché è urgente"), "hidden");

        let spec = form(MENSA);
        let answers = Answers::from_value(serde_json::json!({
            "figli": [ { "nome_figlio": "Luca", "cf_figlio": "RSSMRA85T10A562S", "dieta": true, "dieta_tipo": "Senza glutine" } ],
        }));
        let rows = &summary(&spec, &answers, &HashMap::new())[0].rows;
        assert_eq!(rows[0].label, "Figlio 1 – Nome");
        assert_eq!(rows[3].value, "Senza glutine");
        assert_eq!(rows[3].key, "figli.0.dieta_tipo");
        assert_eq!(human_number("1234567.25"), "1.234.567,25");
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
        errors.add("cf", "Inserisci un codice fiscale valido: 16 caratteri.");
        errors.add("per_conto", "Scegli una risposta per «Presenti la richiesta».");
        let answers = Answers::from_value(serde_json::json!({ "nome": "Mario <Rossi>" }));
        let html = render(&spec, 0, &answers, &errors);
        assert!(html.contains(r#"<label for="f-nome" class="active">Nome e cognome</label>"#), "{html}");
        assert!(html.contains(r#"value="Mario &lt;Rossi&gt;""#), "escaped");
        assert!(html.contains(r#"autocomplete="name""#));
        assert!(html.contains(r#"class="form-control is-invalid" id="f-cf" name="cf" value="" autocomplete="off""#));
        assert!(html.contains(r#"aria-describedby="f-cf-error" aria-invalid="true""#));
        assert!(html.contains(r#"<div class="invalid-feedback d-block" id="f-cf-error">Inserisci un codice fiscale valido: 16 caratteri.</div>"#));
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
                let spec: crate::procedure::spec::ProcedureSpec =
                    toml::from_str(&std::fs::read_to_string(&path).unwrap())
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if let Some(form) = spec.form {
                    form.check().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    forms += 1;
                }
            }
        }
        assert!(forms >= 4, "the demo tenants show at least four forms, found {forms}");
    }
}
