//! What the form's unit tests share: two forms that use every feature (a request for
//! an act, a school-canteen enrolment with a group of children), and helpers that
//! read one value through a one-field form.

use chrono::NaiveDate;
use serde_json::Value;

use super::{answers::parse_step_on, Answers, FormSpec};
use crate::i18n::{Catalogues, Text};

/// A message in Italian, as the repository's catalogues write it.
pub(super) fn it(text: &Text) -> String {
    static CATALOGUES: std::sync::OnceLock<Catalogues> = std::sync::OnceLock::new();
    CATALOGUES.get_or_init(Catalogues::for_tests).text("it", text)
}

pub(super) fn form(toml_text: &str) -> FormSpec {
    let spec: FormSpec = toml::from_str(toml_text).expect("parses");
    spec.check().expect("checks");
    spec
}

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub(super) fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
}

pub(super) fn one_field(field: &str) -> FormSpec {
    form(&format!("[[steps]]\ntitle = \"Dati\"\nfields = [ {field} ]\n"))
}

/// The answer and the error of a one-field form given `value`.
pub(super) fn try_value(field: &str, value: &str) -> (Option<Value>, Option<String>) {
    let spec = one_field(field);
    let key = spec.steps[0].fields[0].key.clone();
    let (answers, errors) = parse_step_on(&spec, 0, &pairs(&[(&key, value)]), &Answers::default(), day());
    (answers.get(&key).cloned(), errors.get(&key).map(it))
}

pub(super) fn ok(field: &str, value: &str) -> String {
    match try_value(field, value) {
        (Some(Value::String(v)), None) => v,
        other => panic!("{value:?} should be accepted, got {other:?}"),
    }
}

pub(super) fn bad(field: &str, value: &str) -> String {
    match try_value(field, value) {
        (_, Some(e)) => e,
        other => panic!("{value:?} should be refused, got {other:?}"),
    }
}

pub(super) const ACCESS: &str = r#"
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

pub(super) const MENSA: &str = r#"
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
