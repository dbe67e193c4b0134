//! A multipart form as the draft step and the integration answer receive it
//! (src/cases/uploads.rs `receive`, without storage): axum/multer read the parts and
//! their `Content-Disposition` field and file names; file names go through
//! `safe_file_name` (src/fascicolo/names.rs), field names pick the file field's
//! policy, file contents are sniffed, and the text fields go to `parse_step`.
//!
//! Input: byte 0 picks the form, byte 1 the step; the rest is the body, boundary `X`.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use axum::{
    body::Body,
    extract::{FromRequest, Multipart},
    http::{header::CONTENT_TYPE, Request},
};
use libfuzzer_sys::fuzz_target;
use sportello::{
    fascicolo::{formats::detect, safe_file_name, UploadError, UploadPolicy},
    procedure::form::{self, html_id, FieldType},
};

const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let [which, step, body @ ..] = data else { return };
    let forms = common::forms();
    let spec = &forms[*which as usize % forms.len()];
    let step = *step as usize % spec.steps.len();
    let request = Request::builder()
        .method("POST")
        .header(CONTENT_TYPE, "multipart/form-data; boundary=X")
        .body(Body::from(body.to_vec()))
        .unwrap();
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().unwrap());
    let (fields, refused) = runtime.block_on(async {
        let mut fields = Vec::new();
        let mut refused = Vec::new();
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else { return (fields, refused) };
        while let Ok(Some(mut field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_string();
            let _ = html_id(&name);
            let file_name = field.file_name().map(str::to_string);
            let mut bytes = Vec::new();
            let mut too_big = false;
            while let Ok(Some(chunk)) = field.chunk().await {
                if bytes.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
                    too_big = true;
                    break;
                }
                bytes.extend_from_slice(&chunk);
            }
            let Some(raw_file_name) = file_name else {
                if let (false, Ok(value)) = (too_big, String::from_utf8(bytes)) {
                    fields.push((name, value));
                }
                continue;
            };
            if raw_file_name.is_empty() {
                continue;
            }
            let file_name = match safe_file_name(&raw_file_name) {
                Ok(n) => n,
                Err(e) => {
                    let _ = (e.code(), e.message_it());
                    refused.push((name, e));
                    continue;
                }
            };
            assert!(!file_name.contains(['/', '\\']) && !file_name.starts_with('.'), "{raw_file_name:?}");
            // draft.rs `file_policy`: the step's file field of that name.
            let Some(field_spec) = spec.steps[step].fields.iter().find(|f| f.key == name && f.kind == FieldType::File)
            else {
                refused.push((name, UploadError::FormatNotAccepted { detected: None, accepted: Vec::new() }));
                continue;
            };
            let policy = UploadPolicy::from_extensions(&field_spec.accept, u64::from(field_spec.max_mb()) << 20);
            let detected = detect(&bytes, !too_big);
            let _ = field_spec.check_upload(&file_name, bytes.len() as u64);
            if !detected.is_some_and(|d| policy.accepted.contains(&d)) {
                refused.push((name, UploadError::FormatNotAccepted { detected, accepted: policy.accepted }));
            }
        }
        (fields, refused)
    });
    if common::is_known_group_overflow(fields.iter().map(|(k, _)| k.as_str())) {
        return;
    }
    let (_, mut errors) = form::parse_step(spec, step, &fields, &form::Answers::default());
    for (field, refusal) in &refused {
        errors.0.entry(field.clone()).or_insert_with(|| refusal.message_it());
    }
});
