//! Codice fiscale, partita IVA, IBAN (and the e-mail / phone normalisers the forms
//! share): src/web/forms.rs; and the fiscal code read from a CNS/CRS card certificate
//! (src/auth/crs.rs `card_of`, a small DER reader), on the same input as bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustls::pki_types::CertificateDer;
use sportello::auth::crs::card_of;
use sportello::input::{
    normalize_email, normalize_fiscal_code, normalize_iban, normalize_mobile, normalize_phone, normalize_vat_number,
};

fn idempotent(f: fn(&str) -> Option<String>, raw: &str, what: &str) {
    if let Some(out) = f(raw) {
        assert_eq!(f(&out).as_deref(), Some(out.as_str()), "{what}: {raw:?} -> {out:?} is not accepted again");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = card_of(&CertificateDer::from(data)) {
        assert_eq!(normalize_fiscal_code(&card.fiscal_code).as_deref(), Some(card.fiscal_code.as_str()));
    }
    let Ok(raw) = std::str::from_utf8(data) else { return };
    if let Some(cf) = normalize_fiscal_code(raw) {
        assert!(
            cf.len() == 16 && cf.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "{raw:?} -> {cf:?}"
        );
    }
    if let Some(vat) = normalize_vat_number(raw) {
        assert!(vat.len() == 11 && vat.bytes().all(|b| b.is_ascii_digit()), "{raw:?} -> {vat:?}");
    }
    if let Some(iban) = normalize_iban(raw) {
        assert!((15..=34).contains(&iban.len()) && iban.bytes().all(|b| b.is_ascii_alphanumeric()), "{raw:?}");
    }
    idempotent(normalize_fiscal_code, raw, "fiscal code");
    idempotent(normalize_vat_number, raw, "partita IVA");
    idempotent(normalize_iban, raw, "IBAN");
    idempotent(normalize_email, raw, "e-mail");
    idempotent(normalize_mobile, raw, "mobile");
    idempotent(normalize_phone, raw, "phone");
});
