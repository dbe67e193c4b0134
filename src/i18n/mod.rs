//! Words in the visitor's language. The catalogues are `locales/<lang>.toml`
//! (nested tables flattened to dotted keys, `{name}` placeholders). Code below the
//! web layer never writes a sentence: it returns a [`Text`] — a key and its
//! arguments — and whoever shows it (a page through the `tr` filter, the API, an
//! e-mail, a PDF) picks the language and calls [`Catalogues::text`].

use std::{borrow::Cow, collections::HashMap, path::Path};

use anyhow::{bail, Context as _};
use serde::{ser::SerializeMap, Serialize};

/// The language of an ente that says nothing, and the fallback of a missing key.
pub const DEFAULT_LANG: &str = "it";

/// Shown instead of a missing message, so tests can find it on any page.
pub const MISSING_MARK: &str = "⟦";

/// A message not yet in any language: its catalogue key and named arguments.
/// An argument is plain text (a label the ente wrote, a number) or another
/// message (a word that itself depends on the language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub key: Cow<'static, str>,
    pub args: Vec<(&'static str, Arg)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Plain(String),
    Text(Text),
}

impl Text {
    pub fn new(key: impl Into<Cow<'static, str>>) -> Self {
        Self { key: key.into(), args: Vec::new() }
    }

    /// Adds a plain argument (shown as given).
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, Arg::Plain(value.to_string())));
        self
    }

    /// Adds an argument that is itself a message.
    pub fn with_text(mut self, name: &'static str, value: Text) -> Self {
        self.args.push((name, Arg::Text(value)));
        self
    }
}

impl From<&'static str> for Text {
    fn from(key: &'static str) -> Self {
        Text::new(key)
    }
}

/// In a page context a `Text` is `{"key": …, "args": {…}}`, which the
/// renderer's `tr` filter turns into words in the page's language.
impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Args<'a>(&'a [(&'static str, Arg)]);
        impl Serialize for Args<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (name, value) in self.0 {
                    match value {
                        Arg::Plain(s) => map.serialize_entry(name, s)?,
                        Arg::Text(t) => map.serialize_entry(name, t)?,
                    }
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("key", &self.key)?;
        map.serialize_entry("args", &Args(&self.args))?;
        map.end()
    }
}

/// Every language's messages.
pub struct Catalogues {
    by_lang: HashMap<String, HashMap<String, String>>,
}

impl Catalogues {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut by_lang = HashMap::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let lang = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let flat = parse_catalogue(&std::fs::read_to_string(&path)?)
                    .with_context(|| format!("parsing {}", path.display()))?;
                by_lang.insert(lang, flat);
            }
        }
        if !by_lang.contains_key(DEFAULT_LANG) {
            bail!("{}: missing {DEFAULT_LANG}.toml", dir.display());
        }
        Ok(Self { by_lang })
    }

    /// The English catalogue as built into the binary: the words of messages
    /// the platform prints for engineers (the recipe loader), which has no
    /// locales folder at hand. The same file the pages read.
    pub fn english() -> &'static Catalogues {
        static ENGLISH: std::sync::LazyLock<Catalogues> = std::sync::LazyLock::new(|| {
            let flat = parse_catalogue(include_str!("../../locales/en.toml")).expect("locales/en.toml parses");
            Catalogues { by_lang: HashMap::from([("en".to_string(), flat)]) }
        });
        &ENGLISH
    }

    /// The catalogues of this repository (`locales/`), for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> Self {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")).expect("locales/")
    }

    pub fn languages(&self) -> Vec<String> {
        let mut languages: Vec<String> = self.by_lang.keys().cloned().collect();
        languages.sort();
        languages
    }

    /// The raw message (placeholders unfilled), falling back to Italian.
    pub fn get(&self, lang: &str, key: &str) -> String {
        self.by_lang
            .get(lang)
            .and_then(|m| m.get(key))
            .or_else(|| self.by_lang.get(DEFAULT_LANG).and_then(|m| m.get(key)))
            .cloned()
            .unwrap_or_else(|| {
                tracing::warn!(key, "missing translation");
                format!("{MISSING_MARK}{key}⟧")
            })
    }

    /// The message in `lang`, its placeholders filled (nested messages first).
    pub fn text(&self, lang: &str, text: &Text) -> String {
        fill(&self.get(lang, &text.key), |name| {
            text.args.iter().find(|(n, _)| *n == name).map(|(_, value)| match value {
                Arg::Plain(s) => s.clone(),
                Arg::Text(t) => self.text(lang, t),
            })
        })
    }

    /// A message serialised into a page context (see `Serialize for Text`).
    pub fn text_of_json(&self, lang: &str, value: &serde_json::Value) -> Option<String> {
        let key = value.get("key")?.as_str()?;
        let args = value.get("args").and_then(|a| a.as_object());
        Some(fill(&self.get(lang, key), |name| {
            args.and_then(|a| a.get(name)).map(|value| match value {
                serde_json::Value::String(s) => s.clone(),
                nested @ serde_json::Value::Object(_) => self.text_of_json(lang, nested).unwrap_or_default(),
                other => other.to_string(),
            })
        }))
    }
}

/// Fills every `{name}` of `template` in one pass: a value that itself holds
/// braces (a name someone typed, "{clock}") is never read as a placeholder.
/// Placeholders without a value stay as written.
fn fill(template: &str, value_of: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        match (after[name_len..].starts_with('}'), value_of(&after[..name_len])) {
            (true, Some(value)) if name_len > 0 => {
                out.push_str(&value);
                rest = &after[name_len + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_catalogue(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let table: toml::Table = toml::from_str(text)?;
    let mut flat = HashMap::new();
    flatten("", &table, &mut flat);
    Ok(flat)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogues() -> Catalogues {
        let dir = std::env::temp_dir().join(format!("sportello-i18n-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("it.toml"), "[f]\nbad = \"Il campo «{label}» è {why}.\"\nempty = \"vuoto\"\n").unwrap();
        std::fs::write(dir.join("en.toml"), "[f]\nbad = \"The field “{label}” is {why}.\"\n").unwrap();
        Catalogues::load(&dir).unwrap()
    }

    #[test]
    fn a_text_reads_in_each_language_with_nested_words_and_italian_fallback() {
        let c = catalogues();
        let text = Text::new("f.bad").with("label", "Nome").with_text("why", Text::new("f.empty"));
        assert_eq!(c.text("it", &text), "Il campo «Nome» è vuoto.");
        // `f.empty` has no English: the Italian word, never a hole.
        assert_eq!(c.text("en", &text), "The field “Nome” is vuoto.");
        let json = serde_json::to_value(&text).unwrap();
        assert_eq!(c.text_of_json("it", &json).as_deref(), Some("Il campo «Nome» è vuoto."));
        assert!(c.text("it", &Text::new("f.nope")).starts_with(MISSING_MARK));
        // What someone typed is never read as a placeholder.
        let typed = Text::new("f.bad").with("label", "{why}").with("why", "vuoto");
        assert_eq!(c.text("it", &typed), "Il campo «{why}» è vuoto.");
        assert_eq!(c.text_of_json("it", &serde_json::to_value(&typed).unwrap()).unwrap(), "Il campo «{why}» è vuoto.");
    }
}

#[cfg(test)]
mod sentences_in_code;
