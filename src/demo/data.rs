//! The demo content (`cases.toml`): people, typed answers, the words both
//! sides write. Read once; a broken file fails the unit tests.

use std::{collections::BTreeMap, sync::OnceLock};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    pub dev_citizens: Vec<String>,
    /// Companies a demo citizen represents: their cases are started on its behalf.
    pub representations: Vec<Representation>,
    pub citizens: Vec<Citizen>,
    pub places: BTreeMap<String, Place>,
    pub relatives: Vec<Relative>,
    /// Procedure slug → variants of what is typed (field name → text).
    pub forms: BTreeMap<String, Vec<BTreeMap<String, String>>>,
    /// Procedure slug (or `default`) → the request of the generic form.
    pub requests: BTreeMap<String, String>,
    pub words: Words,
    pub assistance: Vec<AssistanceSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citizen {
    pub fiscal_code: String,
    pub given_name: String,
    pub family_name: String,
    pub email: String,
    #[serde(default)]
    pub mobile: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Representation {
    pub fiscal_code: String,
    pub company: String,
    pub vat_number: String,
    pub capacity: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub streets: Vec<String>,
    pub cap: String,
    pub municipality: String,
    pub province: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relative {
    pub name: String,
    pub fiscal_code: String,
    pub birth_date: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Words {
    pub office_messages: Vec<String>,
    pub citizen_messages: Vec<String>,
    pub integration_reasons: Vec<String>,
    pub integration_answers: Vec<String>,
    pub accept_reasons: Vec<String>,
    pub reject_reasons: Vec<String>,
    pub close_reasons: Vec<String>,
    pub other_reasons: Vec<String>,
    pub opinion_questions: Vec<String>,
    pub opinion_answers: Vec<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistanceSpec {
    pub kind: String,
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub reply: Option<String>,
    #[serde(default)]
    pub about_case: bool,
}

pub fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| toml::from_str(include_str!("cases.toml")).expect("src/demo/cases.toml"))
}

/// A small deterministic generator (SplitMix64): the same ente gets the same demo.
pub struct Rng(u64);

impl Rng {
    /// Seeded by the ente's slug (FNV-1a).
    pub fn for_slug(slug: &str) -> Self {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in slug.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        Self(h)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Fills `{name}`-style placeholders.
pub fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = text.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_content_parses_and_its_codes_are_valid() {
        let d = data();
        assert!(d.citizens.len() >= 5);
        for c in &d.citizens {
            assert_eq!(crate::input::normalize_fiscal_code(&c.fiscal_code).as_deref(), Some(c.fiscal_code.as_str()));
        }
        for r in &d.relatives {
            assert!(crate::input::normalize_fiscal_code(&r.fiscal_code).is_some(), "{}", r.fiscal_code);
        }
        for r in &d.representations {
            assert!(
                d.dev_citizens.contains(&r.fiscal_code),
                "{} represents a company but is no dev citizen",
                r.fiscal_code
            );
            assert!(crate::input::normalize_vat_number(&r.vat_number).is_some(), "{}", r.vat_number);
        }
        for code in &d.dev_citizens {
            assert!(
                crate::auth::dev_idp::identities().iter().any(|i| &i.fiscal_code == code),
                "{code} is not a development identity"
            );
        }
        assert!(d.requests.contains_key("default"));
        assert!(d.places.contains_key("valmora") && d.places.contains_key("roccamare"));
    }

    #[test]
    fn the_generator_is_deterministic() {
        let (mut a, mut b) = (Rng::for_slug("valmora"), Rng::for_slug("valmora"));
        let xs: Vec<u64> = (0..5).map(|_| a.next()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next()).collect::<Vec<_>>());
        assert_ne!(xs[0], Rng::for_slug("roccamare").next());
        assert!((0..100).all(|_| (3..=7).contains(&a.range(3, 7))));
    }
}
