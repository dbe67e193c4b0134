//! Numbers and dates as Italians write them (`1.234,50`, `15/03/2024`) and as they
//! are stored (`1234.5`, `2024-03-15`).

use chrono::NaiveDate;

/// `1.234,5` / `1234,5` / `1234.5` / `-3` -> `1234.5`: canonical, dot for decimals.
pub(super) fn parse_italian_number(v: &str) -> Option<String> {
    let v: String = v.chars().filter(|c| !c.is_whitespace() && *c != '\'').collect();
    let v = v.strip_prefix('+').unwrap_or(&v).to_string();
    let plain = if v.contains(',') {
        if v.matches(',').count() > 1 {
            return None;
        }
        v.replace('.', "").replace(',', ".")
    } else if is_thousands(&v) {
        // "1.500": an Italian thousand separator, not 1,5.
        v.replace('.', "")
    } else {
        v
    };
    parse_canonical_number(&plain)
}

fn is_thousands(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let mut groups = digits.split('.');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    !rest.is_empty()
        && (1..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_digit())
        && rest.iter().all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn parse_canonical_number(v: &str) -> Option<String> {
    let (sign, digits) = match v.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", v),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int = if int.is_empty() && frac.is_some() { "0" } else { int };
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = match frac {
        Some(f) if f.is_empty() || f.len() > 10 || !f.bytes().all(|b| b.is_ascii_digit()) => return None,
        Some(f) => f.trim_end_matches('0'),
        None => "",
    };
    let sign = if int == "0" && frac.is_empty() { "" } else { sign };
    Some(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

/// `YYYY-MM-DD` (from `<input type=date>`), `DD/MM/YYYY`, `DD-MM-YYYY`, `DD.MM.YYYY`.
pub(super) fn parse_date(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    let date = if v.len() == 10 && v.as_bytes()[4] == b'-' {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?
    } else {
        let parts: Vec<&str> = v.split(['/', '-', '.']).collect();
        let [d, m, y] = parts[..] else { return None };
        if y.len() != 4 || d.is_empty() || d.len() > 2 || m.is_empty() || m.len() > 2 {
            return None;
        }
        NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?
    };
    use chrono::Datelike;
    (1900..=2200).contains(&date.year()).then_some(date)
}

/// `1234.5` -> `1.234,5`.
pub(super) fn human_number(canonical: &str) -> String {
    let (sign, rest) = match canonical.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", canonical),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

/// `value` rounded to `digits` decimals, with a decimal comma: `11,0`.
pub(super) fn format_decimal(value: f64, digits: usize) -> String {
    format!("{value:.digits$}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::procedure::form::{checks::validate_all_on, test_support::*, Answers};

    #[test]
    fn numbers_in_italian() {
        let any = r#"{ key = "n", label = "Importo", type = "number", unit = "€" }"#;
        assert_eq!(ok(any, "1.234,50"), "1234.5");
        assert_eq!(ok(any, "1234,5"), "1234.5");
        assert_eq!(ok(any, "1.500"), "1500", "a thousand separator");
        assert_eq!(ok(any, "2.5"), "2.5");
        assert_eq!(ok(any, "007"), "7");
        assert!(bad(any, "dieci").contains("la virgola separa i decimali"));
        assert!(bad(any, "1,2,3").contains("solo un numero"));
        let whole = r#"{ key = "n", label = "Copie", type = "number", min = 1, max = 10, decimals = 0 }"#;
        assert_eq!(ok(whole, "3"), "3");
        assert!(bad(whole, "2,5").contains("numero intero"));
        assert!(bad(whole, "0").contains("minimo ammesso è 1"));
        assert!(bad(whole, "11").contains("massimo ammesso è 10"));
        let cents = r#"{ key = "n", label = "Importo", type = "number", decimals = 2, max = 1500 }"#;
        assert!(bad(cents, "1,234").contains("al massimo 2 cifre"));
        assert!(bad(cents, "2.000").contains("1.500"), "the bound in Italian");
        // Stored values are canonical and pass again unchanged.
        let spec = one_field(cents);
        let answers = Answers::from_value(serde_json::json!({ "n": "123.45" }));
        assert!(validate_all_on(&spec, &answers, &HashMap::new(), day()).is_empty());
    }

    #[test]
    fn dates_from_the_picker_or_typed() {
        let f = r#"{ key = "d", label = "Data di nascita", type = "date", not_future = true }"#;
        assert_eq!(ok(f, "1985-12-10"), "1985-12-10");
        assert_eq!(ok(f, "10/12/1985"), "1985-12-10");
        assert_eq!(ok(f, "1/2/1985"), "1985-02-01");
        assert!(bad(f, "31/02/2024").contains("GG/MM/AAAA"));
        assert!(bad(f, "domani").contains("GG/MM/AAAA"));
        assert!(bad(f, "16/06/2025").contains("successiva a oggi"));
        let future = r#"{ key = "d", label = "Data dell'evento", type = "date", not_past = true }"#;
        assert_eq!(ok(future, "15/06/2025"), "2025-06-15", "today is fine");
        assert!(bad(future, "14/06/2025").contains("già passata"));
    }
}
