//! The one renderer: a single Tera engine holding every theme. A page is rendered
//! as `<theme>/<page>`, falling back to `base/<page>`. Every user-facing string
//! goes through `t()` so other languages can follow Italian.

use std::{collections::HashMap, path::Path, sync::Arc};

use anyhow::{bail, Context as _};
use tera::{Context, Tera, Value};

pub const DEFAULT_LANG: &str = "it";

pub struct Renderer {
    tera: Tera,
    themes: Vec<String>,
    i18n: Arc<Catalogues>,
}

impl Renderer {
    pub fn load(themes_dir: &Path, locales_dir: &Path) -> anyhow::Result<Self> {
        let mut files = Vec::new();
        let mut themes = Vec::new();
        for entry in std::fs::read_dir(themes_dir).with_context(|| format!("reading {}", themes_dir.display()))? {
            let dir = entry?.path();
            let templates = dir.join("templates");
            let Some(theme) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if !templates.is_dir() {
                continue;
            }
            collect_templates(&templates, &templates, &theme, &mut files)?;
            themes.push(theme);
        }
        if !themes.iter().any(|t| t == "base") {
            bail!("{}: the `base` theme is missing", themes_dir.display());
        }
        themes.sort();
        let i18n = Arc::new(Catalogues::load(locales_dir)?);
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_template_files(files).context("loading templates")?;
        tera.register_function("t", Translate(i18n.clone()));
        tera.register_filter("paragraphs", paragraphs);
        tera.register_filter("when", when);
        tera.register_filter("size", size);
        Ok(Self { tera, themes, i18n })
    }

    pub fn themes(&self) -> &[String] {
        &self.themes
    }

    pub fn translate(&self, key: &str) -> String {
        self.i18n.get(DEFAULT_LANG, key)
    }

    /// Renders `<theme>/<page>` or, when the theme does not override it, `base/<page>`.
    pub fn render(&self, theme: &str, page: &str, context: &Context) -> tera::Result<String> {
        let themed = format!("{theme}/{page}");
        let name = if self.tera.get_template_names().any(|n| n == themed) { themed } else { format!("base/{page}") };
        self.tera.render(&name, context)
    }
}

fn collect_templates(
    root: &Path,
    dir: &Path,
    theme: &str,
    out: &mut Vec<(std::path::PathBuf, Option<String>)>,
) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_templates(root, &path, theme, out)?;
        } else if path.extension().is_some_and(|e| e == "html" || e == "css") {
            let rel = path.strip_prefix(root)?.to_string_lossy().replace('\\', "/");
            out.push((path.clone(), Some(format!("{theme}/{rel}"))));
        }
    }
    Ok(())
}

/// Message catalogues: `locales/<lang>.toml`, nested tables flattened to dotted keys.
pub struct Catalogues {
    by_lang: HashMap<String, HashMap<String, String>>,
}

/// Shown instead of a missing message, so tests can find it on any page.
pub const MISSING_MARK: &str = "⟦";

impl Catalogues {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut by_lang = HashMap::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let lang = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)
                    .with_context(|| format!("parsing {}", path.display()))?;
                let mut flat = HashMap::new();
                flatten("", &table, &mut flat);
                by_lang.insert(lang, flat);
            }
        }
        if !by_lang.contains_key(DEFAULT_LANG) {
            bail!("{}: missing {DEFAULT_LANG}.toml", dir.display());
        }
        Ok(Self { by_lang })
    }

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

/// `{{ t(k="home.title", name=tenant.name) }}`: the message, with `{name}` filled in.
struct Translate(Arc<Catalogues>);

impl tera::Function for Translate {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let key = args.get("k").and_then(Value::as_str).ok_or("t() needs k=\"key\"")?;
        let lang = args.get("lang").and_then(Value::as_str).unwrap_or(DEFAULT_LANG);
        let mut text = self.0.get(lang, key);
        for (name, value) in args {
            if name == "k" || name == "lang" {
                continue;
            }
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text = text.replace(&format!("{{{name}}}"), &value);
        }
        Ok(Value::String(text))
    }

    fn is_safe(&self) -> bool {
        false
    }
}

/// Plain text with blank-line paragraphs -> escaped `<p>` blocks (line breaks kept).
fn paragraphs(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let text = value.as_str().unwrap_or_default();
    let html: String = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(|l| tera::escape_html(l.trim())).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect();
    Ok(Value::String(html))
}

/// A timestamp (RFC 3339) or a date (YYYY-MM-DD) as Italians read it.
fn when(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let text = value.as_str().unwrap_or_default();
    let shown = if let Ok(at) = text.parse::<chrono::DateTime<chrono::Utc>>() {
        crate::time::format_rome_datetime(at)
    } else if let Ok(date) = text.parse::<chrono::NaiveDate>() {
        crate::time::format_date(date)
    } else {
        text.to_string()
    };
    Ok(Value::String(shown))
}

fn size(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(crate::time::format_size(value.as_u64().unwrap_or_default())))
}

/// Serialises JSON-LD so that it cannot close its `<script>` element early.
pub fn json_for_script(value: &serde_json::Value) -> String {
    value.to_string().replace("</", "<\\/").replace("<!--", "<\\!--")
}
