//! Form answers as a citizen posts them (src/procedure/form/): `parse_step` on field
//! names and values, the group actions `parse_action` / `apply_action`, then what
//! the pages do with the answers (validation, step view, summary).
//!
//! Input: byte 0 picks the form (the generic one or a demo procedure's), byte 1 the
//! step (out of range too); the rest is an `application/x-www-form-urlencoded` body.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use sportello::procedure::form::{
    apply_action, html_id, parse_action, parse_step, step_view, summary, validate_all, Answers,
};

fuzz_target!(|data: &[u8]| {
    let [which, step, body @ ..] = data else { return };
    let forms = common::forms();
    let spec = &forms[*which as usize % forms.len()];
    let step = *step as usize % (spec.steps.len() + 1);
    let raw: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    if common::is_known_group_overflow(raw.iter().map(|(k, _)| k.as_str())) {
        return;
    }
    for (name, _) in &raw {
        let _ = html_id(name);
    }

    let (mut answers, errors) = parse_step(spec, step, &raw, &Answers::default());
    if let Some(action) = parse_action(&raw) {
        apply_action(spec, step, &mut answers, &action);
    }
    // The draft is stored as JSON and read back before the next step.
    let answers = Answers::from_value(answers.into_value());
    let (answers, _) = parse_step(spec, step, &raw, &answers);
    if step < spec.steps.len() {
        let _ = step_view(spec, step, &answers, &errors);
    }
    let files: HashMap<String, usize> = spec.file_fields().map(|(_, f)| (f.key.clone(), 1)).collect();
    let _ = validate_all(spec, &answers, &files);
    let _ = summary(spec, &answers, &HashMap::new());
    for (name, _) in &raw {
        let _ = spec.is_shown(name, &answers);
    }
});
