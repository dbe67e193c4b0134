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
//!
//! By concern: `spec` (the form as written, checked at load), `answers` (reading a
//! step, group actions, dropping hidden answers), `checks` (validating answers),
//! `numbers` (Italian numbers and dates), `prefill`, `views` (a step as the templates
//! render it) and `summary`. Callers use the items re-exported here.

mod answers;
mod checks;
mod numbers;
mod prefill;
mod spec;
mod summary;
#[cfg(test)]
mod test_support;
mod views;

pub use answers::{apply_action, html_id, parse_action, parse_step, prune, Action, Answers, FieldErrors};
pub use checks::{check_files, validate_all};
pub use prefill::{prefill, Identity};
pub use spec::{
    ChoiceSpec, Expected, FieldSpec, FieldType, FormProblem, FormSpec, PrefillKey, ShowIf, StepSpec, DEFAULT_MAX_MB,
    KNOWN_EXTENSIONS,
};
pub use summary::{summary, SummaryRow, SummarySection};
pub use views::{step_view, ErrorLink, FieldView, OptionView, RowView, StepLink, StepView, Words};
