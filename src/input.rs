//! Form validation shared by every feature: field checks that name the Italian
//! message (a key of locales/it.toml) to show next to the field.

use std::collections::BTreeMap;

use serde::Serialize;

/// Field name -> message key. Rendered next to each field, and as a summary.
#[derive(Debug, Default, Serialize)]
pub struct FormErrors(BTreeMap<&'static str, &'static str>);

impl FormErrors {
    pub fn add(&mut self, field: &'static str, message: &'static str) {
        self.0.entry(field).or_insert(message);
    }

    pub fn check(&mut self, field: &'static str, ok: bool, message: &'static str) {
        if !ok {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.get(field).copied()
    }
}

pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.chars().all(|c| c.is_ascii_alphanumeric() || "@.+-_'".contains(c));
    ok.then_some(email)
}

/// Italian (or international) mobile number in E.164: `347 123 4567` -> `+393471234567`.
pub fn normalize_mobile(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/')).collect();
    let number = if let Some(rest) = digits.strip_prefix("+") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if digits.starts_with('3') {
        format!("39{digits}")
    } else {
        return None;
    };
    let ok = (8..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("+{number}"))
}

/// Validates an Italian personal fiscal code, check character included
/// (omocodia letters accepted). Returns it upper-cased.
pub fn normalize_fiscal_code(raw: &str) -> Option<String> {
    let code: String = raw.trim().to_uppercase();
    if code.len() != 16 || !code.is_ascii() {
        return None;
    }
    let b = code.as_bytes();
    let omocodia = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let shape = b[..6].iter().all(u8::is_ascii_uppercase)
        && omocodia(b[6])
        && omocodia(b[7])
        && b[8].is_ascii_uppercase()
        && omocodia(b[9])
        && omocodia(b[10])
        && b[11].is_ascii_uppercase()
        && omocodia(b[12])
        && omocodia(b[13])
        && omocodia(b[14])
        && b[15].is_ascii_uppercase();
    if !shape {
        return None;
    }
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let value = |c: u8, odd: bool| -> u32 {
        let index = if c.is_ascii_digit() { (c - b'0') as usize } else { (c - b'A') as usize };
        if odd {
            ODD[index]
        } else {
            index as u32
        }
    };
    // Positions are 1-based in the rule: the 1st, 3rd, ... characters are "odd".
    let sum: u32 = b[..15].iter().enumerate().map(|(i, &c)| value(c, i % 2 == 0)).sum();
    (b[15] == b'A' + (sum % 26) as u8).then_some(code)
}

/// Any Italian phone number, mobile or landline, in E.164 (the landline's leading zero
/// stays): `035 123456` -> `+39035123456`. Mobiles as [`normalize_mobile`].
pub fn normalize_phone(raw: &str) -> Option<String> {
    if let Some(mobile) = normalize_mobile(raw) {
        return Some(mobile);
    }
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/')).collect();
    let national = digits.strip_prefix("+39").or_else(|| digits.strip_prefix("0039")).unwrap_or(&digits);
    let ok =
        national.starts_with('0') && (6..=11).contains(&national.len()) && national.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("+39{national}"))
}

/// Italian partita IVA: 11 digits, the last a check digit (Luhn). `IT` prefix and
/// spaces are accepted and removed.
pub fn normalize_vat_number(raw: &str) -> Option<String> {
    let mut code: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    if let Some(rest) = code.strip_prefix("IT") {
        code = rest.to_string();
    }
    if code.len() != 11 || !code.bytes().all(|b| b.is_ascii_digit()) || code == "00000000000" {
        return None;
    }
    let sum: u32 = code
        .bytes()
        .take(10)
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 0 {
                d
            } else if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    (code.as_bytes()[10] - b'0' == check as u8).then_some(code)
}

/// IBAN without spaces, upper-cased, checked with mod 97; Italian ones must also
/// have their 27-character shape (IT, 2 check digits, CIN letter, ABI, CAB, account).
pub fn normalize_iban(raw: &str) -> Option<String> {
    let iban: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_uppercase();
    if !(15..=34).contains(&iban.len()) || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let b = iban.as_bytes();
    if !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() || !b[2].is_ascii_digit() || !b[3].is_ascii_digit() {
        return None;
    }
    if iban.starts_with("IT")
        && (iban.len() != 27 || !b[4].is_ascii_uppercase() || !b[5..15].iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    let mut remainder: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let value = if c.is_ascii_digit() { (c - b'0') as u32 } else { (c - b'A') as u32 + 10 };
        remainder = if value >= 10 { (remainder * 100 + value) % 97 } else { (remainder * 10 + value) % 97 };
    }
    (remainder == 1).then_some(iban)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_codes_are_checked() {
        assert_eq!(normalize_fiscal_code("rssmra85t10a562s").as_deref(), Some("RSSMRA85T10A562S"));
        assert!(normalize_fiscal_code("RSSMRA85T10A562T").is_none(), "wrong check character");
        assert!(normalize_fiscal_code("RSSMRA85T10A562").is_none());
        assert!(normalize_fiscal_code("RSSMRA85T10A56XS").is_none());
    }

    #[test]
    fn mobiles_become_e164() {
        assert_eq!(normalize_mobile("347 123 4567").as_deref(), Some("+393471234567"));
        assert_eq!(normalize_mobile("+39 347-1234567").as_deref(), Some("+393471234567"));
        assert_eq!(normalize_mobile("0039 3471234567").as_deref(), Some("+393471234567"));
        assert!(normalize_mobile("06 1234567").is_none());
        assert!(normalize_mobile("+39abc").is_none());
    }

    #[test]
    fn emails_are_lowercased_and_shaped() {
        assert_eq!(normalize_email(" Mario.Rossi@Example.IT ").as_deref(), Some("mario.rossi@example.it"));
        assert!(normalize_email("mario@localhost").is_none());
        assert!(normalize_email("mario rossi@example.it").is_none());
        assert!(normalize_email("<script>@x.it").is_none());
    }

    #[test]
    fn phones_mobile_or_landline() {
        assert_eq!(normalize_phone("347 123 4567").as_deref(), Some("+393471234567"));
        assert_eq!(normalize_phone("035 123456").as_deref(), Some("+39035123456"));
        assert_eq!(normalize_phone("+39 06 1234 5678").as_deref(), Some("+390612345678"));
        assert!(normalize_phone("12345").is_none());
        assert!(normalize_phone("06 abc").is_none());
    }

    #[test]
    fn vat_numbers_have_a_check_digit() {
        assert_eq!(normalize_vat_number("IT 01114601006").as_deref(), Some("01114601006"));
        assert_eq!(normalize_vat_number("00743110157").as_deref(), Some("00743110157"));
        assert!(normalize_vat_number("01114601007").is_none(), "wrong check digit");
        assert!(normalize_vat_number("0111460100").is_none());
        assert!(normalize_vat_number("00000000000").is_none());
    }

    #[test]
    fn ibans_are_checked_mod_97() {
        assert_eq!(normalize_iban("it60 x054 2811 1010 0000 0123 456").as_deref(), Some("IT60X0542811101000000123456"));
        assert!(normalize_iban("IT60X0542811101000000123457").is_none(), "wrong check digits");
        assert!(normalize_iban("IT60X054281110100000012345").is_none(), "26 characters");
        assert_eq!(normalize_iban("DE89 3704 0044 0532 0130 00").as_deref(), Some("DE89370400440532013000"));
        assert!(normalize_iban("GB82WEST1234569876543X").is_none());
    }
}
