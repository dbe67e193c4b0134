//! A procedure's content and what changes between two of its revisions.
//!
//! A procedure has one draft and a history of published revisions (learned from
//! démarches-simplifiées): every edit goes to the draft, "publish" appends an
//! immutable revision. [`changes`] lists, in words, what a new revision changes
//! against the one before; [`Change::fits_open_drafts`] says whether a
//! citizen's open draft started on the old one may move to the new one without
//! losing an answer or becoming invalid (cases already submitted never move).
//! Fields are matched by their key, which the console never lets change: the
//! key is the field's stable identifier across revisions.

use serde::{Deserialize, Serialize};

use super::{
    form::{FieldSpec, FormSpec},
    spec::Fee,
    workflow::Workflow,
};
use crate::i18n::Text;

/// Everything a revision fixes: the service page (Modello Comuni), the terms a
/// case copies when it starts, the form and the workflow. Where the procedure
/// sits in the catalogue (its category, its order, whether it is online) is not
/// content: it changes at once, without a revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureContent {
    pub title: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub how_to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_documents: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub costs: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<Fee>,
    pub office: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub officer: String,
    pub time_limit_days: i32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub calendar_text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_basis: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub outcome: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub conditions: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default = "yes")]
    pub online: bool,
    /// Lowest level of assurance accepted to start it (1–3, SPID levels).
    #[serde(default = "level_one")]
    pub min_level: i16,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contacts: String,
    /// The form citizens fill to start it; none: [`FormSpec::generic`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<FormSpec>,
    /// How the office works its cases; none: [`Workflow::standard`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Workflow>,
}

fn yes() -> bool {
    true
}

fn level_one() -> i16 {
    1
}

/// Where a problem of the content is: a field of the page, a form field, a
/// workflow element; the console shows the message next to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The input it belongs to (`title`, `office`, `form`, `workflow`…).
    pub at: &'static str,
    pub message: Text,
}

impl ProcedureContent {
    /// The loader's checks (`CatalogSpec::load` runs the same), against the ente's
    /// offices. Every problem, not only the first, so the console can show them all.
    pub fn problems(&self, offices: &[&str]) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut refuse = |at, key: &'static str| out.push(Problem { at, message: Text::new(key) });
        if self.title.trim().is_empty() {
            refuse("title", "admin.check.title_empty");
        }
        if self.title.chars().count() > 200 {
            refuse("title", "admin.check.title_long");
        }
        if self.summary.trim().is_empty() {
            refuse("summary", "admin.check.summary_empty");
        }
        if !offices.contains(&self.office.as_str()) {
            refuse("office", "admin.check.office_unknown");
        }
        if self.time_limit_days <= 0 || self.time_limit_days > 3650 {
            refuse("time_limit_days", "admin.check.time_limit");
        }
        if !(1..=3).contains(&self.min_level) {
            refuse("min_level", "admin.check.min_level");
        }
        for fee in &self.fees {
            if fee.label.trim().is_empty() || fee.amount.trim().is_empty() {
                refuse("fees", "admin.check.fee_incomplete");
                break;
            }
        }
        if let Some(problem) = self.form.as_ref().and_then(FormSpec::problem) {
            // Where in the form: the field's label, or the step's title.
            let form = self.form.as_ref().expect("checked above");
            let place = match &problem.field {
                Some(key) => form.field(key).map(|f| f.label.clone()).unwrap_or_else(|| key.clone()),
                None => problem.step.and_then(|i| form.steps.get(i)).map(|s| s.title.clone()).unwrap_or_default(),
            };
            out.push(Problem {
                at: "form",
                message: Text::new("admin.check.form").with("place", place).with_text("detail", problem.message),
            });
        }
        if let Some(workflow) = &self.workflow {
            if let Some(problem) = workflow.problem(offices) {
                out.push(Problem { at: "workflow", message: problem.placed(workflow) });
            }
        }
        out
    }
}

/// One difference between two revisions, as the publish page and the history
/// list it. Stored with the revision (JSON), put into words when shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The first revision.
    Created,
    /// A field of the service page or of the terms (`title`, `time_limit_days`…).
    Detail {
        field: String,
    },
    StepAdded {
        title: String,
    },
    StepRemoved {
        title: String,
    },
    StepEdited {
        title: String,
    },
    FieldAdded {
        key: String,
        label: String,
        required: bool,
    },
    FieldRemoved {
        key: String,
        label: String,
    },
    FieldRequired {
        key: String,
        label: String,
    },
    FieldOptional {
        key: String,
        label: String,
    },
    FieldTypeChanged {
        key: String,
        label: String,
    },
    /// Label, help text or another wording only.
    FieldReworded {
        key: String,
        label: String,
    },
    /// Limits, formats, prefill or the like: what an earlier answer met may not meet it.
    FieldConstrained {
        key: String,
        label: String,
    },
    FieldConditionChanged {
        key: String,
        label: String,
    },
    FieldMoved {
        key: String,
        label: String,
    },
    OptionsAdded {
        key: String,
        label: String,
        options: Vec<String>,
    },
    OptionsRemoved {
        key: String,
        label: String,
        options: Vec<String>,
    },
    /// The generic form replaced by one of its own, or the other way round.
    FormReplaced,
    StatusAdded {
        key: String,
        label: String,
    },
    StatusRemoved {
        key: String,
        label: String,
    },
    StatusChanged {
        key: String,
        label: String,
    },
    TransitionAdded {
        key: String,
        label: String,
    },
    TransitionRemoved {
        key: String,
        label: String,
    },
    TransitionChanged {
        key: String,
        label: String,
    },
    /// Initial status, clock rule, timers or document templates.
    WorkflowRules,
}

impl Change {
    /// Whether a citizen's draft started on the old revision may move to the new
    /// one: nothing it holds is lost or made invalid by this change. A draft has
    /// no workflow history yet, so workflow changes always fit.
    pub fn fits_open_drafts(&self) -> bool {
        !matches!(
            self,
            Change::FieldAdded { required: true, .. }
                | Change::FieldRequired { .. }
                | Change::FieldTypeChanged { .. }
                | Change::FieldConstrained { .. }
                | Change::FieldConditionChanged { .. }
                | Change::OptionsRemoved { .. }
                | Change::FormReplaced
        )
    }

    /// The change in words (`admin.change.*`).
    pub fn text(&self) -> Text {
        let labelled = |key: &'static str, label: &str| Text::new(key).with("label", label);
        match self {
            Change::Created => Text::new("admin.change.created"),
            Change::Detail { field } => {
                Text::new("admin.change.detail").with_text("field", Text::new(format!("admin.procedure.{field}")))
            }
            Change::StepAdded { title } => labelled("admin.change.step_added", title),
            Change::StepRemoved { title } => labelled("admin.change.step_removed", title),
            Change::StepEdited { title } => labelled("admin.change.step_edited", title),
            Change::FieldAdded { label, required: true, .. } => labelled("admin.change.field_added_required", label),
            Change::FieldAdded { label, .. } => labelled("admin.change.field_added", label),
            Change::FieldRemoved { label, .. } => labelled("admin.change.field_removed", label),
            Change::FieldRequired { label, .. } => labelled("admin.change.field_required", label),
            Change::FieldOptional { label, .. } => labelled("admin.change.field_optional", label),
            Change::FieldTypeChanged { label, .. } => labelled("admin.change.field_type", label),
            Change::FieldReworded { label, .. } => labelled("admin.change.field_reworded", label),
            Change::FieldConstrained { label, .. } => labelled("admin.change.field_constrained", label),
            Change::FieldConditionChanged { label, .. } => labelled("admin.change.field_condition", label),
            Change::FieldMoved { label, .. } => labelled("admin.change.field_moved", label),
            Change::OptionsAdded { label, options, .. } => {
                labelled("admin.change.options_added", label).with("options", quoted(options))
            }
            Change::OptionsRemoved { label, options, .. } => {
                labelled("admin.change.options_removed", label).with("options", quoted(options))
            }
            Change::FormReplaced => Text::new("admin.change.form_replaced"),
            Change::StatusAdded { label, .. } => labelled("admin.change.status_added", label),
            Change::StatusRemoved { label, .. } => labelled("admin.change.status_removed", label),
            Change::StatusChanged { label, .. } => labelled("admin.change.status_changed", label),
            Change::TransitionAdded { label, .. } => labelled("admin.change.transition_added", label),
            Change::TransitionRemoved { label, .. } => labelled("admin.change.transition_removed", label),
            Change::TransitionChanged { label, .. } => labelled("admin.change.transition_changed", label),
            Change::WorkflowRules => Text::new("admin.change.workflow_rules"),
        }
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("«{i}»")).collect::<Vec<_>>().join(", ")
}

/// What `new` changes against `old` (`None`: there was no revision before).
pub fn changes(old: Option<&ProcedureContent>, new: &ProcedureContent) -> Vec<Change> {
    let Some(old) = old else { return vec![Change::Created] };
    let mut out = Vec::new();
    detail_changes(old, new, &mut out);
    match (&old.form, &new.form) {
        (None, None) => {}
        (Some(a), Some(b)) => out.extend(form_changes(a, b)),
        _ => out.push(Change::FormReplaced),
    }
    let standard = Workflow::standard();
    workflow_changes(old.workflow.as_ref().unwrap_or(&standard), new.workflow.as_ref().unwrap_or(&standard), &mut out);
    out
}

fn detail_changes(old: &ProcedureContent, new: &ProcedureContent, out: &mut Vec<Change>) {
    let mut detail = |field: &str, differs: bool| {
        if differs {
            out.push(Change::Detail { field: field.to_string() });
        }
    };
    detail("title", old.title != new.title);
    detail("summary", old.summary != new.summary);
    detail("description", old.description != new.description);
    detail("audience", old.audience != new.audience);
    detail("how_to", old.how_to != new.how_to);
    detail("required_documents", old.required_documents != new.required_documents);
    detail("costs", old.costs != new.costs);
    detail("fees", old.fees != new.fees);
    detail("office", old.office != new.office);
    detail("officer", old.officer != new.officer);
    detail("time_limit_days", old.time_limit_days != new.time_limit_days);
    detail("calendar_text", old.calendar_text != new.calendar_text);
    detail("legal_basis", old.legal_basis != new.legal_basis);
    detail("outcome", old.outcome != new.outcome);
    detail("conditions", old.conditions != new.conditions);
    detail("keywords", old.keywords != new.keywords);
    detail("online", old.online != new.online);
    detail("min_level", old.min_level != new.min_level);
    detail("contacts", old.contacts != new.contacts);
}

/// Where a field sits: its step, its group (if a row field) and its place.
type Place<'a> = (usize, Option<&'a str>, usize);

fn fields_of(form: &FormSpec) -> Vec<(Place<'_>, &FieldSpec)> {
    let mut out = Vec::new();
    for (s, step) in form.steps.iter().enumerate() {
        for (i, field) in step.fields.iter().enumerate() {
            out.push(((s, None, i), field));
            for (j, sub) in field.fields.iter().enumerate() {
                out.push(((s, Some(field.key.as_str()), j), sub));
            }
        }
    }
    out
}

/// What `new` changes against the form `old` (a draft's, or a revision's).
pub fn form_changes(old: &FormSpec, new: &FormSpec) -> Vec<Change> {
    let mut out = Vec::new();
    // Steps are matched by position: they have no key.
    for (i, step) in new.steps.iter().enumerate() {
        match old.steps.get(i) {
            None => out.push(Change::StepAdded { title: step.title.clone() }),
            Some(was) if was.title != step.title || was.intro != step.intro => {
                out.push(Change::StepEdited { title: step.title.clone() })
            }
            Some(_) => {}
        }
    }
    for step in old.steps.iter().skip(new.steps.len()) {
        out.push(Change::StepRemoved { title: step.title.clone() });
    }
    let (before, after) = (fields_of(old), fields_of(new));
    for (place, field) in &after {
        let (key, label) = (field.key.clone(), field.label.clone());
        let Some((was_place, was)) = before.iter().find(|(_, f)| f.key == field.key) else {
            out.push(Change::FieldAdded { key, label, required: field.required });
            continue;
        };
        if was.kind != field.kind {
            out.push(Change::FieldTypeChanged { key, label });
            continue;
        }
        if !was.required && field.required {
            out.push(Change::FieldRequired { key: key.clone(), label: label.clone() });
        }
        if was.required && !field.required {
            out.push(Change::FieldOptional { key: key.clone(), label: label.clone() });
        }
        let values = |f: &FieldSpec| f.options.iter().map(|o| o.value.clone()).collect::<Vec<_>>();
        let (had, has) = (values(was), values(field));
        let added: Vec<String> = has.iter().filter(|v| !had.contains(v)).cloned().collect();
        let removed: Vec<String> = had.iter().filter(|v| !has.contains(v)).cloned().collect();
        if !added.is_empty() {
            out.push(Change::OptionsAdded { key: key.clone(), label: label.clone(), options: added });
        }
        if !removed.is_empty() {
            out.push(Change::OptionsRemoved { key: key.clone(), label: label.clone(), options: removed });
        }
        if was.show_if != field.show_if {
            out.push(Change::FieldConditionChanged { key: key.clone(), label: label.clone() });
        }
        if constraints(was) != constraints(field) {
            out.push(Change::FieldConstrained { key: key.clone(), label: label.clone() });
        }
        let relabelled =
            was.options.iter().any(|o| field.options.iter().any(|n| n.value == o.value && n.label != o.label));
        let reworded = was.label != field.label
            || was.hint != field.hint
            || was.unit != field.unit
            || was.add_label != field.add_label
            || was.item_label != field.item_label
            || was.radio != field.radio
            || was.prefill != field.prefill
            || relabelled;
        if reworded {
            out.push(Change::FieldReworded { key: key.clone(), label: label.clone() });
        }
        if was_place.0 != place.0 || was_place.1 != place.1 || moved_among_siblings(&before, &after, &field.key) {
            out.push(Change::FieldMoved { key, label });
        }
    }
    for (_, field) in &before {
        if !after.iter().any(|(_, f)| f.key == field.key) {
            out.push(Change::FieldRemoved { key: field.key.clone(), label: field.label.clone() });
        }
    }
    out
}

/// What an answer must meet besides being there: an earlier answer may not meet
/// a change of any of these.
fn constraints(f: &FieldSpec) -> impl PartialEq + '_ {
    (
        f.max_length,
        f.min.map(f64::to_bits),
        f.max.map(f64::to_bits),
        f.decimals,
        f.not_future,
        f.not_past,
        &f.accept,
        f.max_mb,
        f.multiple,
    )
}

/// Whether the field's order among the fields both revisions share changed.
fn moved_among_siblings(before: &[(Place<'_>, &FieldSpec)], after: &[(Place<'_>, &FieldSpec)], key: &str) -> bool {
    let common = |list: &[(Place<'_>, &FieldSpec)], other: &[(Place<'_>, &FieldSpec)]| -> Vec<String> {
        let Some((place, _)) = list.iter().find(|(_, f)| f.key == key) else { return Vec::new() };
        list.iter()
            .filter(|((s, g, _), f)| (*s, *g) == (place.0, place.1) && other.iter().any(|(_, o)| o.key == f.key))
            .map(|(_, f)| f.key.clone())
            .collect()
    };
    let (a, b) = (common(before, after), common(after, before));
    let index = |list: &[String]| list.iter().position(|k| k == key);
    a.len() == b.len() && index(&a) != index(&b)
}

fn workflow_changes(old: &Workflow, new: &Workflow, out: &mut Vec<Change>) {
    for status in &new.statuses {
        let (key, label) = (status.key.clone(), status.label.clone());
        match old.status(&status.key) {
            None => out.push(Change::StatusAdded { key, label }),
            Some(was) if was != status => out.push(Change::StatusChanged { key, label }),
            Some(_) => {}
        }
    }
    for status in &old.statuses {
        if new.status(&status.key).is_none() {
            out.push(Change::StatusRemoved { key: status.key.clone(), label: status.label.clone() });
        }
    }
    for transition in &new.transitions {
        let (key, label) = (transition.key.clone(), transition.label.clone());
        match old.transition(&transition.key) {
            None => out.push(Change::TransitionAdded { key, label }),
            Some(was) if was != transition => out.push(Change::TransitionChanged { key, label }),
            Some(_) => {}
        }
    }
    for transition in &old.transitions {
        if new.transition(&transition.key).is_none() {
            out.push(Change::TransitionRemoved { key: transition.key.clone(), label: transition.label.clone() });
        }
    }
    let rules = |w: &Workflow| (w.initial.clone(), w.clock_on_integration, w.timers.clone(), w.documents.clone());
    if rules(old) != rules(new) {
        out.push(Change::WorkflowRules);
    }
}

/// Whether every change lets an open draft move.
pub fn drafts_may_move(changes: &[Change]) -> bool {
    changes.iter().all(Change::fits_open_drafts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(form: &str) -> ProcedureContent {
        let mut c: ProcedureContent = toml::from_str(
            r#"title = "Prova"
summary = "Una prova."
office = "UO"
time_limit_days = 30"#,
        )
        .unwrap();
        c.form = Some(toml::from_str(form).unwrap());
        c
    }

    const FORM: &str = r#"
[[steps]]
title = "Dati"
fields = [
  { key = "nome", label = "Nome", type = "text", required = true },
  { key = "tipo", label = "Tipo", type = "select", options = [ { value = "a", label = "A" }, { value = "b", label = "B" } ] },
]
"#;

    #[test]
    fn an_optional_field_added_lets_drafts_move_a_required_one_does_not() {
        let old = content(FORM);
        let optional = content(&FORM.replace(
            r#"label = "B" } ] },"#,
            r#"label = "B" } ] },
  { key = "iban", label = "IBAN", type = "iban" },"#,
        ));
        let found = changes(Some(&old), &optional);
        assert_eq!(found, vec![Change::FieldAdded { key: "iban".into(), label: "IBAN".into(), required: false }]);
        assert!(drafts_may_move(&found));

        let required = content(&FORM.replace(
            r#"label = "B" } ] },"#,
            r#"label = "B" } ] },
  { key = "iban", label = "IBAN", type = "iban", required = true },"#,
        ));
        let found = changes(Some(&old), &required);
        assert!(!drafts_may_move(&found), "{found:?}");
        assert_eq!(found[0].text().key, "admin.change.field_added_required");
    }

    #[test]
    fn options_removed_and_fields_made_required_keep_drafts_where_they_are() {
        let old = content(FORM);
        let new = content(
            &FORM
                .replace(r#", { value = "b", label = "B" }"#, "")
                .replace(r#"label = "Tipo", type = "select""#, r#"label = "Tipo", type = "select", required = true"#),
        );
        let found = changes(Some(&old), &new);
        assert!(found.contains(&Change::FieldRequired { key: "tipo".into(), label: "Tipo".into() }));
        assert!(found.contains(&Change::OptionsRemoved {
            key: "tipo".into(),
            label: "Tipo".into(),
            options: vec!["b".into()]
        }));
        assert!(!drafts_may_move(&found));
    }

    #[test]
    fn rewording_removing_and_moving_fields_let_drafts_move() {
        let old = content(FORM);
        let new = content(
            r#"
[[steps]]
title = "Dati"
fields = [
  { key = "tipo", label = "Tipo di richiesta", type = "select", options = [ { value = "a", label = "A" }, { value = "b", label = "B" }, { value = "c", label = "C" } ] },
]
"#,
        );
        let found = changes(Some(&old), &new);
        assert!(found.contains(&Change::FieldRemoved { key: "nome".into(), label: "Nome".into() }), "{found:?}");
        assert!(found.contains(&Change::FieldReworded { key: "tipo".into(), label: "Tipo di richiesta".into() }));
        assert!(found.contains(&Change::OptionsAdded {
            key: "tipo".into(),
            label: "Tipo di richiesta".into(),
            options: vec!["c".into()]
        }));
        assert!(drafts_may_move(&found));
        // Unchanged content: no change at all.
        assert!(changes(Some(&old), &old).is_empty());
        assert_eq!(changes(None, &old), vec![Change::Created]);
    }

    #[test]
    fn workflow_and_page_changes_are_named() {
        let old = content(FORM);
        let mut new = old.clone();
        new.title = "Prova nuova".into();
        let mut workflow = Workflow::standard();
        let removed = workflow.statuses.pop().unwrap();
        workflow.transitions.retain(|t| t.to != removed.key && !t.from.contains(&removed.key));
        new.workflow = Some(workflow);
        let found = changes(Some(&old), &new);
        assert_eq!(found[0], Change::Detail { field: "title".into() });
        assert!(found.contains(&Change::StatusRemoved { key: removed.key.clone(), label: removed.label.clone() }));
        assert!(drafts_may_move(&found), "a draft has no workflow history yet");
    }

    #[test]
    fn the_loader_checks_name_the_input() {
        let mut c = content(FORM);
        c.title.clear();
        c.office = "NOPE".into();
        c.time_limit_days = 0;
        let at: Vec<&str> = c.problems(&["UO"]).iter().map(|p| p.at).collect();
        assert_eq!(at, vec!["title", "office", "time_limit_days"]);
        assert!(content(FORM).problems(&["UO"]).is_empty());
    }
}
