//! The SPID/CIE `samlp:Response` posted to the ACS (src/auth/saml/response.rs):
//! base64 and XML parsing (DTDs refused), the Response checks, the anti-wrapping
//! structure checks, and — for documents shaped well enough — libxmlsec1's
//! signature verification against the IdP certificate (which no fuzzed input can
//! pass: the assertion checks after it are reached only by signed responses).
//!
//! The expectations are fixed (request `_req1` at 2026-01-01T00:00:00Z, checked
//! five seconds later), so that a seed with those values reaches the deep checks.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use openssl::{
    asn1::Asn1Time,
    bn::BigNum,
    hash::MessageDigest,
    pkey::PKey,
    rsa::Rsa,
    x509::{X509NameBuilder, X509},
};
use sportello::auth::saml::{
    idp::Endpoint, response::validate_response_xml, validate_response, Expectations, IdpMetadata, IdpTrust,
    NoReplayCheck, SpidLevel, BINDING_POST,
};

pub const SP_ENTITY: &str = "https://valmora.example.it/accesso/spid/metadata";
pub const SP_ACS: &str = "https://valmora.example.it/accesso/spid/acs";
pub const IDP_ENTITY: &str = "https://idp.example.it";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A throw-away IdP certificate, valid 2025–2030.
fn idp() -> &'static IdpMetadata {
    static IDP: OnceLock<IdpMetadata> = OnceLock::new();
    IDP.get_or_init(|| {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "fuzz-idp").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap()).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(at("2025-01-01T00:00:00Z").timestamp()).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(at("2030-01-01T00:00:00Z").timestamp()).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        IdpMetadata {
            entity_id: IDP_ENTITY.into(),
            sso: vec![Endpoint { binding: BINDING_POST.into(), location: format!("{IDP_ENTITY}/sso") }],
            slo: vec![],
            signing_certs: vec![b.build().to_der().unwrap()],
            trust: IdpTrust::Strict,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let idp = idp();
    let mut exp = Expectations::new("_req1", at("2026-01-01T00:00:00Z"), SP_ACS, SP_ENTITY, idp, SpidLevel::L2);
    exp.now = at("2026-01-01T00:00:05Z");
    exp.clock_skew = Duration::seconds(90);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let outcomes = [validate_response_xml(text, &exp, &NoReplayCheck), validate_response(text, &exp, &NoReplayCheck)];
    for outcome in outcomes {
        match outcome {
            Ok(identity) => panic!("an unsigned, fuzzed response was accepted: {identity:?}"),
            Err(e) => {
                let _ = (e.code(), e.http_status(), e.user_message_it(), e.to_string());
            }
        }
    }
});
