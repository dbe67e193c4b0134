//! Checking answers: required fields, the value of each type (normalizing what the
//! citizen typed), addresses part by part, the rows of a group, and attached files.
//! Every message is a [`Text`] (`form.check.*`), shown next to the field.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::{
    answers::{prune, visible, Answers, FieldErrors},
    numbers::{format_decimal, human_number, parse_canonical_number, parse_date, parse_italian_number},
    spec::{FieldSpec, FieldType, FormSpec, ADDRESS_PARTS},
};
use crate::{
    i18n::{Arg, Text},
    input::{normalize_email, normalize_fiscal_code, normalize_iban, normalize_phone, normalize_vat_number},
};

/// Dates are checked against the server's calendar day.
pub(super) fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// A `form.check.*` message about the field labelled `label`.
fn about(key: &'static str, label: &str) -> Text {
    Text::new(key).with("label", label)
}

impl FieldSpec {
    /// Whether an uploaded file fits this file field: its extension and its size.
    /// The error is the message to show next to the field.
    pub fn check_upload(&self, file_name: &str, size_bytes: u64) -> Result<(), Text> {
        let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_lowercase()).unwrap_or_default();
        if !self.accept.iter().any(|a| a.eq_ignore_ascii_case(&ext)) {
            let formats = self.accept.iter().map(|e| Arg::Plain(e.to_uppercase())).collect();
            return Err(about("form.check.upload_format", &self.label)
                .with("file", file_name)
                .with_arg("formats", or_list(formats)));
        }
        let max = self.max_mb() as u64 * 1024 * 1024;
        if size_bytes > max {
            return Err(Text::new("form.check.upload_size")
                .with("file", file_name)
                .with("size", format_decimal(size_bytes as f64 / 1024.0 / 1024.0, 1))
                .with("max", self.max_mb()));
        }
        Ok(())
    }
}

/// Checks every visible field of every step, files included (`files`: how many
/// documents are attached per file field key), before the case is submitted.
pub fn validate_all(spec: &FormSpec, answers: &Answers, files: &HashMap<String, usize>) -> FieldErrors {
    validate_all_on(spec, answers, files, today())
}

pub(super) fn validate_all_on(
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
                about("form.check.file_required", &f.label).with("formats", f.accept_human()).with("max", f.max_mb()),
            );
        } else if !f.multiple && count > 1 {
            errors.add(&f.key, about("form.check.file_single", &f.label));
        }
    }
    errors
}

/// Checks (and, with `input`, normalizes in place) the visible fields of one level.
pub(super) fn check_fields(
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
            (1, Some(w)) => about("form.check.group_min_one_named", &f.label).with("item", w),
            (1, None) => about("form.check.group_min_one", &f.label),
            (m, _) => about("form.check.group_min", &f.label).with("min", m).with("n", n),
        };
        errors.add(&f.key, message);
    } else if n > f.group_max() {
        errors.add(&f.key, about("form.check.group_max", &f.label).with("max", f.group_max()));
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
                errors.add(name, about("form.check.checkbox_required", &short(&f.label)));
            }
        }
        FieldType::Address => check_address(f, name, container, errors, input),
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

/// An address, part by part: each part's error sits under `name.part`.
fn check_address(f: &FieldSpec, name: &str, container: &mut Map<String, Value>, errors: &mut FieldErrors, input: bool) {
    let parts = container.get(&f.key).and_then(Value::as_object).cloned();
    let Some(mut parts) = parts else {
        if f.required {
            errors.add(format!("{name}.street"), about("form.check.address_required", &f.label));
        }
        return;
    };
    for (part, _, _) in ADDRESS_PARTS {
        let v = parts.get(part).and_then(Value::as_str).unwrap_or_default().to_string();
        match check_address_part(part, &v) {
            Ok(v) => {
                parts.insert(part.to_string(), Value::String(v));
            }
            Err(e) => {
                let message = if v.is_empty() {
                    about("form.check.address_part_required", &f.label).with_text("part", address_part_named(part))
                } else {
                    e
                };
                errors.add(format!("{name}.{part}"), message);
            }
        }
    }
    if input {
        container.insert(f.key.clone(), Value::Object(parts));
    }
}

/// An address part as a sentence names it ("il CAP").
fn address_part_named(part: &str) -> Text {
    Text::new(match part {
        "street" => "form.address_part.street",
        "number" => "form.address_part.number",
        "cap" => "form.address_part.cap",
        "municipality" => "form.address_part.municipality",
        _ => "form.address_part.province",
    })
}

/// A long label (a declaration) cut for a message.
pub(super) fn short(label: &str) -> String {
    let label = label.trim();
    if label.chars().count() <= 80 {
        return label.to_string();
    }
    let cut: String = label.chars().take(77).collect();
    format!("{}…", cut.trim_end())
}

fn required_message(f: &FieldSpec) -> Text {
    match f.kind {
        FieldType::Select => about("form.check.select_required", &f.label),
        FieldType::Date => about("form.check.date_required", &f.label),
        _ => about("form.check.required", &f.label),
    }
}

fn check_address_part(part: &str, v: &str) -> Result<String, Text> {
    let v = v.trim();
    match part {
        "cap" => {
            if v.len() == 5 && v.bytes().all(|b| b.is_ascii_digit()) {
                Ok(v.to_string())
            } else {
                Err(Text::new("form.check.cap"))
            }
        }
        "province" => {
            let p = v.to_uppercase();
            if p.len() == 2 && p.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(p)
            } else {
                Err(Text::new("form.check.province"))
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
                Err(Text::new("form.check.street_number"))
            }
        }
        _ => {
            if v.is_empty() {
                Err(Text::new("form.check.part_required"))
            } else if v.chars().count() > 120 {
                Err(Text::new("form.check.part_too_long"))
            } else {
                Ok(v.to_string())
            }
        }
    }
}

/// Checks one scalar answer; returns it normalized. `input`: as typed (Italian
/// number format) rather than as stored.
fn check_scalar(f: &FieldSpec, v: &str, today: NaiveDate, input: bool) -> Result<String, Text> {
    match f.kind {
        FieldType::Text | FieldType::Textarea => check_text(f, v),
        FieldType::Number => check_number(f, v, input),
        FieldType::Date => check_date(f, v, today),
        FieldType::Email => normalize_email(v).ok_or_else(|| Text::new("form.check.email")),
        FieldType::Phone => normalize_phone(v).ok_or_else(|| Text::new("form.check.phone")),
        FieldType::FiscalCode => check_fiscal_code(v),
        FieldType::VatNumber => check_vat_number(v),
        FieldType::Iban => check_iban(v),
        FieldType::Select => {
            if f.options.iter().any(|o| o.value == v) {
                Ok(v.to_string())
            } else {
                Err(about("form.check.select_option", &f.label))
            }
        }
        FieldType::Address | FieldType::Checkbox | FieldType::File | FieldType::Group => Ok(v.to_string()),
    }
}

/// Control characters go (a textarea keeps its line breaks and tabs), then the length.
fn check_text(f: &FieldSpec, v: &str) -> Result<String, Text> {
    let text: String = if f.kind == FieldType::Text {
        v.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
    } else {
        v.replace("\r\n", "\n").chars().filter(|c| !c.is_control() || *c == '\n' || *c == '\t').collect()
    };
    let n = text.chars().count();
    if n > f.max_length() {
        return Err(about("form.check.text_too_long", &f.label).with("max", f.max_length()).with("n", n));
    }
    Ok(text.trim().to_string())
}

fn check_date(f: &FieldSpec, v: &str, today: NaiveDate) -> Result<String, Text> {
    let Some(date) = parse_date(v) else {
        return Err(about("form.check.date_invalid", &f.label));
    };
    if f.not_future && date > today {
        return Err(about("form.check.date_future", &f.label));
    }
    if f.not_past && date < today {
        return Err(about("form.check.date_past", &f.label));
    }
    Ok(date.format("%Y-%m-%d").to_string())
}

fn check_fiscal_code(v: &str) -> Result<String, Text> {
    let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    normalize_fiscal_code(&compact).ok_or_else(|| {
        let n = compact.chars().count();
        if n != 16 {
            Text::new("form.check.fiscal_code_length").with("n", n)
        } else {
            Text::new("form.check.fiscal_code")
        }
    })
}

fn check_vat_number(v: &str) -> Result<String, Text> {
    normalize_vat_number(v).ok_or_else(|| {
        let digits = v.chars().filter(|c| c.is_ascii_digit()).count();
        if digits != 11 {
            Text::new("form.check.vat_number_length").with("n", digits)
        } else {
            Text::new("form.check.vat_number")
        }
    })
}

fn check_iban(v: &str) -> Result<String, Text> {
    normalize_iban(v).ok_or_else(|| {
        let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        if compact.starts_with("IT") && compact.len() != 27 {
            Text::new("form.check.iban_length").with("n", compact.len())
        } else {
            Text::new("form.check.iban")
        }
    })
}

fn check_number(f: &FieldSpec, v: &str, input: bool) -> Result<String, Text> {
    let whole = f.decimals == Some(0);
    let canonical = if input { parse_italian_number(v) } else { parse_canonical_number(v) };
    let Some(canonical) = canonical else {
        let key = if whole { "form.check.number_only_whole" } else { "form.check.number_only" };
        return Err(about(key, &f.label));
    };
    let decimals = canonical.split_once('.').map(|(_, d)| d.len()).unwrap_or(0);
    match f.decimals {
        Some(0) if decimals > 0 => return Err(about("form.check.number_whole", &f.label)),
        Some(d) if decimals > d as usize => return Err(about("form.check.number_decimals", &f.label).with("d", d)),
        _ => {}
    }
    let value: f64 = canonical.parse().map_err(|_| {
        about(if whole { "form.check.number_invalid_whole" } else { "form.check.number_invalid" }, &f.label)
    })?;
    let unit = f.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
    if let Some(min) = f.min {
        if value < min {
            return Err(about("form.check.number_min", &f.label)
                .with("min", human_number(&min.to_string()))
                .with("unit", &unit));
        }
    }
    if let Some(max) = f.max {
        if value > max {
            return Err(about("form.check.number_max", &f.label)
                .with("max", human_number(&max.to_string()))
                .with("unit", &unit));
        }
    }
    Ok(canonical)
}

/// "PDF, P7M o JPG": alternatives, as a sentence of the reader's language lists
/// them (`form.list.*`). One item is itself; none, an empty word.
pub(super) fn or_list(mut items: Vec<Arg>) -> Arg {
    let Some(last) = items.pop() else { return Arg::Plain(String::new()) };
    if items.is_empty() {
        return last;
    }
    let first = comma_list(items);
    Arg::Text(Text::new("form.list.or").with_arg("first", first).with_arg("last", last))
}

/// "A, B, C": items joined by the list separator of the reader's language.
fn comma_list(mut items: Vec<Arg>) -> Arg {
    let last = items.pop().unwrap_or(Arg::Plain(String::new()));
    if items.is_empty() {
        return last;
    }
    Arg::Text(Text::new("form.list.comma").with_arg("first", comma_list(items)).with_arg("last", last))
}

/// Adds an argument, plain or a message.
pub(super) trait WithArg {
    fn with_arg(self, name: &'static str, value: Arg) -> Self;
}

impl WithArg for Text {
    fn with_arg(mut self, name: &'static str, value: Arg) -> Self {
        self.args.push((name, value));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::{answers::parse_step_on, test_support::*};

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
        assert_eq!(
            errors.get("delegante").map(it).as_deref(),
            Some("Compila il campo «Nome del delegante»: è obbligatorio.")
        );
        let file_errors = check_files(&spec, Some(0), &answers, &counts);
        assert!(it(file_errors.get("delega").unwrap()).contains("PDF, P7M"));
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
        assert!(it(errors.get("dichiaro").unwrap()).starts_with("Per continuare devi spuntare la casella"));
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
        assert!(it(errors.get("residenza.cap").unwrap()).contains("5 cifre"));
        assert!(it(errors.get("residenza.province").unwrap()).contains("2 lettere"));
        assert!(it(errors.get("residenza.number").unwrap()).contains("SNC"));
        assert!(it(errors.get("residenza.municipality").unwrap()).contains("il comune"));
        let (_, errors) = parse_step_on(&spec, 1, &pairs(&[("dichiaro", "1")]), &Answers::default(), day());
        assert!(it(errors.get("residenza.street").unwrap()).contains("via o piazza"));
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
        assert!(it(validate_all_on(&spec, &answers, &files, day()).get("delega").unwrap()).contains("un solo file"));

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
        let e = it(&delega.check_upload("delega.docx", 1000).unwrap_err());
        assert!(e.contains("carica un file PDF o P7M"), "{e}");
        let e = it(&delega.check_upload("delega.pdf", 11 * 1024 * 1024).unwrap_err());
        assert!(e.contains("(11,0 MB)") && e.contains("massima è 10 MB"), "{e}");
        assert!(delega.check_upload("senza-estensione", 10).is_err());
    }
}
