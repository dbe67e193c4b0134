//! The workflow of a procedure as written in its TOML file (src/backoffice/workflow.rs):
//! deserialisation, the load-time `check`, the lookups the engine makes, and the JSON
//! snapshot each case keeps. Also the whole procedure file (src/catalog/spec.rs), whose
//! `[workflow]` and `[form]` tables are checked at load.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sportello::procedure::{spec::ProcedureSpec, workflow::Workflow};

const OFFICES: &[&str] = &["UO-SERV", "UO-ANAG", "UO-TRIB", "SUAP"];

fn exercise(w: &Workflow) {
    let _ = w.check(OFFICES);
    for s in &w.statuses {
        let _ = w.from_status(&s.key).count();
    }
    for t in &w.transitions {
        let _ = w.transition(&t.key);
        let _ = w.status(&t.to);
    }
    // The snapshot on the case (jsonb) must read back as the same workflow.
    let json = serde_json::to_value(w).expect("a workflow serialises");
    let back: Workflow = serde_json::from_value(json).expect("a workflow snapshot reads back");
    assert_eq!(&back, w, "JSON snapshot round trip");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(w) = toml::from_str::<Workflow>(text) {
        exercise(&w);
    }
    if let Ok(spec) = toml::from_str::<ProcedureSpec>(text) {
        if let Some(form) = &spec.form {
            let _ = form.check();
        }
        if let Some(w) = &spec.workflow {
            exercise(w);
        }
    }
});
