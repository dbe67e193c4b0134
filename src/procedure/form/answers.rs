//! The answers of a form and what changes them: reading the pairs a step posts,
//! the group actions (add or remove a row), and dropping the answers of fields a
//! condition hides.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::i18n::Text;

use super::{
    checks::{check_fields, today},
    spec::{FieldSpec, FieldType, FormSpec, ADDRESS_PARTS},
};

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

/// HTML field name (`key`, `key.cap`, `key.0.sub`) -> the message shown next to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub BTreeMap<String, Text>);

impl FieldErrors {
    /// Keeps the first message of a field.
    pub fn add(&mut self, name: impl Into<String>, message: impl Into<Text>) {
        self.0.entry(name.into()).or_insert_with(|| message.into());
    }

    pub fn get(&self, name: &str) -> Option<&Text> {
        self.0.get(name)
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

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Text)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The `id` of the input with this HTML name.
pub fn html_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

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
pub(super) fn visible(f: &FieldSpec, row: Option<&Map<String, Value>>, top: &Map<String, Value>) -> bool {
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
/// File fields are not read here: check them with [`check_files`](super::check_files).
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

pub(super) fn parse_step_on(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::{step_view, test_support::*};

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
        assert!(it(errors.get("figli.1.cf_figlio").unwrap()).contains("16 caratteri"));
        assert!(it(errors.get("figli.1.dieta_tipo").unwrap()).contains("Quale dieta"));
        assert!(errors.get("figli.0.dieta_tipo").is_none(), "hidden in row 0");
        assert_eq!(errors.len(), 2, "{errors:?}");

        let (_, errors) = parse_step_on(&spec, 0, &pairs(&[("figli._rows", "1")]), &Answers::default(), day());
        assert!(it(errors.get("figli").unwrap()).contains("almeno un elemento"));
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
}
