//! The answers the signed-in citizen's identity gives, before they type anything.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    answers::Answers,
    numbers::parse_date,
    spec::{FieldType, FormSpec, PrefillKey},
};

/// What is known of the signed-in citizen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub fiscal_code: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    /// `YYYY-MM-DD` (or `DD/MM/YYYY`).
    pub birth_date: Option<String>,
    pub birth_place: Option<String>,
    /// One line, e.g. "Via Roma 12, 24010 Valmora (BG)".
    pub address: Option<String>,
}

/// The answers the citizen's identity gives: every field (of any step) whose `prefill`
/// names something known. Put it under a draft with [`Answers::fill_from`].
pub fn prefill(spec: &FormSpec, identity: &Identity) -> Answers {
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let mut answers = Answers::default();
    for step in &spec.steps {
        for f in &step.fields {
            let Some(p) = f.prefill else { continue };
            let value = match p {
                PrefillKey::GivenName => clean(&identity.given_name),
                PrefillKey::FamilyName => clean(&identity.family_name),
                PrefillKey::FullName => {
                    let name = [clean(&identity.given_name), clean(&identity.family_name)]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    (!name.is_empty()).then_some(name)
                }
                PrefillKey::FiscalCode => clean(&identity.fiscal_code).map(|c| c.to_uppercase()),
                PrefillKey::Email => clean(&identity.email),
                PrefillKey::Mobile => clean(&identity.mobile),
                PrefillKey::BirthDate => clean(&identity.birth_date).map(|d| match (f.kind, parse_date(&d)) {
                    (FieldType::Date, Some(date)) => date.format("%Y-%m-%d").to_string(),
                    (_, Some(date)) => date.format("%d/%m/%Y").to_string(),
                    (_, None) => d,
                }),
                PrefillKey::BirthPlace => clean(&identity.birth_place),
                PrefillKey::Address => clean(&identity.address),
            };
            let Some(value) = value else { continue };
            let value =
                if f.kind == FieldType::Address { Value::Object(split_address(&value)) } else { Value::String(value) };
            answers.0.insert(f.key.clone(), value);
        }
    }
    answers
}

/// "Via Roma 12, 24010 Valmora (BG)" -> its parts; whatever does not fit that shape
/// lands in `street`, for the citizen to fix.
fn split_address(line: &str) -> Map<String, Value> {
    let mut parts = Map::new();
    let mut put = |k: &str, v: &str| {
        if !v.trim().is_empty() {
            parts.insert(k.to_string(), Value::String(v.trim().to_string()));
        }
    };
    let parsed = (|| {
        let (street_number, rest) = line.split_once(',')?;
        let (street, number) = street_number.trim().rsplit_once(' ')?;
        if !number.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let rest = rest.trim();
        let (cap, rest) = rest.split_once(' ')?;
        if cap.len() != 5 || !cap.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (town, province) = match rest.trim().strip_suffix(')').and_then(|r| r.rsplit_once('(')) {
            Some((town, p)) => (town.trim(), p.trim()),
            None => (rest.trim(), ""),
        };
        Some((street, number, cap, town, province))
    })();
    match parsed {
        Some((street, number, cap, town, province)) => {
            put("street", street);
            put("number", number);
            put("cap", cap);
            put("municipality", town);
            put("province", &province.to_uppercase());
        }
        None => put("street", line),
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::form::test_support::*;

    #[test]
    fn prefill_from_the_identity() {
        let spec = form(ACCESS);
        let identity = Identity {
            given_name: Some("Mario".into()),
            family_name: Some("Rossi".into()),
            fiscal_code: Some("rssmra85t10a562s".into()),
            address: Some("Via Roma 12, 24010 Valmora (BG)".into()),
            ..Identity::default()
        };
        let answers = prefill(&spec, &identity);
        assert_eq!(answers.text("nome").as_deref(), Some("Mario Rossi"));
        assert_eq!(answers.text("cf").as_deref(), Some("RSSMRA85T10A562S"));
        assert_eq!(
            answers.get("residenza").unwrap(),
            &serde_json::json!({ "street": "Via Roma", "number": "12", "cap": "24010", "municipality": "Valmora", "province": "BG" })
        );
        let odd = prefill(&spec, &Identity { address: Some("Località Prati".into()), ..Identity::default() });
        assert_eq!(odd.get("residenza").unwrap(), &serde_json::json!({ "street": "Località Prati" }));
        assert!(odd.get("nome").is_none());

        let generic = prefill(
            &FormSpec::generic(&crate::i18n::Catalogues::for_tests(), "it"),
            &Identity {
                mobile: Some("+393471234567".into()),
                email: Some("m@example.it".into()),
                ..Identity::default()
            },
        );
        assert_eq!(generic.text("phone").as_deref(), Some("+393471234567"));
        assert_eq!(generic.text("email").as_deref(), Some("m@example.it"));

        // A draft keeps what the citizen changed.
        let mut draft = Answers::from_value(serde_json::json!({ "nome": "Mario Rossi Bianchi" }));
        draft.fill_from(&answers);
        assert_eq!(draft.text("nome").as_deref(), Some("Mario Rossi Bianchi"));
        assert_eq!(draft.text("cf").as_deref(), Some("RSSMRA85T10A562S"));
    }
}
