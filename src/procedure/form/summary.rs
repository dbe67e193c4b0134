//! The answers as people read them: the confirmation page before submitting, and the
//! sections of the PDF receipt.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{
    answers::{prune, visible, Answers},
    numbers::{human_number, parse_canonical_number, parse_date},
    spec::{FieldSpec, FieldType, FormSpec},
    views::Words,
};
use crate::i18n::Text;

#[derive(Debug, Clone, Serialize)]
pub struct SummarySection {
    pub title: String,
    pub rows: Vec<SummaryRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub key: String,
    pub label: String,
    /// The answer as given, or a word of the catalogues ("Sì", "Nessun file allegato").
    pub value: Words,
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
                    let value = names
                        .map(|n| Words::Given(n.join(", ")))
                        .unwrap_or_else(|| Text::new("form.summary.no_files").into());
                    rows.push(SummaryRow { key: f.key.clone(), label: f.label.clone(), value });
                }
                FieldType::Group => {
                    let empty = Vec::new();
                    let items = answers.0.get(&f.key).and_then(Value::as_array).unwrap_or(&empty);
                    if items.is_empty() {
                        let value = Text::new("form.summary.none").into();
                        rows.push(SummaryRow { key: f.key.clone(), label: f.label.clone(), value });
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
fn human_value(f: &FieldSpec, value: Option<&Value>) -> Option<Words> {
    let ticked = |v: Option<&Value>| matches!(v, Some(Value::Bool(true)));
    match (f.kind, value) {
        (FieldType::Checkbox, v) => {
            Some(Text::new(if ticked(v) { "form.summary.yes" } else { "form.summary.no" }).into())
        }
        (FieldType::Address, Some(Value::Object(p))) => {
            let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default().trim().to_string();
            let street =
                [get("street"), get("number")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            let town =
                [get("cap"), get("municipality")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
            let province = get("province");
            let town = if province.is_empty() { town } else { format!("{town} ({province})") };
            let line = [street, town].into_iter().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join(", ");
            (!line.is_empty()).then_some(Words::Given(line))
        }
        (_, Some(Value::String(s))) if !s.is_empty() => Some(Words::Given(match f.kind {
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
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::test_support::*;

    fn words(w: &Words) -> String {
        match w {
            Words::Given(s) => s.clone(),
            Words::Said(t) => it(t),
        }
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
        let all: HashMap<&str, String> =
            sections.iter().flat_map(|s| s.rows.iter().map(|r| (r.label.as_str(), words(&r.value)))).collect();
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
        assert_eq!(words(&rows[3].value), "Senza glutine");
        assert_eq!(rows[3].key, "figli.0.dieta_tipo");
        assert_eq!(human_number("1234567.25"), "1.234.567,25");
    }
}
