//! The one renderer: a single Tera engine holding every theme. A page is rendered
//! as `<theme>/<page>`, falling back to `base/<page>`. Every user-facing string
//! goes through `t()`, which answers in the language of the page being rendered
//! (the context's `lang`, see `web::base_context`).

use std::{cell::RefCell, collections::HashMap, path::Path, sync::Arc};

use anyhow::{bail, Context as _};

use tera::{Context, Tera, Value};

pub use crate::i18n::{Catalogues, DEFAULT_LANG, MISSING_MARK};

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
        tera.register_function("asset", AssetUrl(None));
        tera.register_filter("paragraphs", paragraphs);
        tera.register_filter("when", When(i18n.clone()));
        tera.register_filter("size", Size(i18n.clone()));
        tera.register_filter("tr", Tr(i18n.clone()));
        Ok(Self { tera, themes, i18n })
    }

    /// Gives templates `asset(path=…)`: the content-hashed URL of a static file
    /// (`themes/base/sportello.css`, `vendor/bootstrap-italia/svg/sprites.svg`).
    /// Without it (renderers of tests and tools) the unhashed `/static/<path>`.
    pub fn with_assets(mut self, assets: Arc<crate::web::assets::Assets>) -> Self {
        self.tera.register_function("asset", AssetUrl(Some(assets)));
        self
    }

    pub fn themes(&self) -> &[String] {
        &self.themes
    }

    pub fn translate_in(&self, lang: &str, key: &str) -> String {
        self.i18n.get(lang, key)
    }

    /// The languages with a locale file, sorted.
    pub fn languages(&self) -> Vec<String> {
        self.i18n.languages()
    }

    /// The catalogues, for words with no page: the API's messages, e-mails, PDFs.
    pub fn catalogues(&self) -> &Arc<Catalogues> {
        &self.i18n
    }

    /// Renders `<theme>/<page>` or, when the theme does not override it, `base/<page>`,
    /// in the context's `lang`.
    pub fn render(&self, theme: &str, page: &str, context: &Context) -> tera::Result<String> {
        let themed = format!("{theme}/{page}");
        let name = if self.tera.get_template_names().any(|n| n == themed) { themed } else { format!("base/{page}") };
        let lang = context.get("lang").and_then(Value::as_str).unwrap_or(DEFAULT_LANG);
        let _page_language = PageLanguage::set(lang);
        self.tera.render(&name, context)
    }
}

thread_local! {
    /// The language of the page this thread is rendering. Tera gives functions
    /// and filters their arguments only — macros do not even see the context —
    /// so `t()` and `when` read it here. Rendering is synchronous: nothing else
    /// runs on the thread between `set` and the guard's drop.
    static PAGE_LANGUAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Holds the page's language for the length of one render.
struct PageLanguage(Option<String>);

impl PageLanguage {
    fn set(lang: &str) -> Self {
        Self(PAGE_LANGUAGE.with(|l| l.replace(Some(lang.to_string()))))
    }

    fn current() -> String {
        PAGE_LANGUAGE.with(|l| l.borrow().clone()).unwrap_or_else(|| DEFAULT_LANG.to_string())
    }
}

impl Drop for PageLanguage {
    fn drop(&mut self) {
        let previous = self.0.take();
        PAGE_LANGUAGE.with(|l| *l.borrow_mut() = previous);
    }
}

struct AssetUrl(Option<Arc<crate::web::assets::Assets>>);

impl tera::Function for AssetUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = args.get("path").and_then(Value::as_str).ok_or("asset() needs path=\"…\"")?;
        Ok(Value::String(match &self.0 {
            Some(assets) => assets.url(path),
            None => format!("/static/{}", path.trim_start_matches('/')),
        }))
    }

    fn is_safe(&self) -> bool {
        true
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

/// `{{ t(k="home.title", name=tenant.name) }}`: the message in the page's
/// language, with `{name}` filled in; `lang="en"` asks for another language.
struct Translate(Arc<Catalogues>);

impl tera::Function for Translate {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let key = args.get("k").and_then(Value::as_str).ok_or("t() needs k=\"key\"")?;
        let lang = args.get("lang").and_then(Value::as_str).map(str::to_string).unwrap_or_else(PageLanguage::current);
        let mut text = self.0.get(&lang, key);
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

/// `{{ field.error | tr }}`: a message the code returned as an `i18n::Text`,
/// in the page's language. Plain strings pass through unchanged.
struct Tr(Arc<Catalogues>);

impl tera::Filter for Tr {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        match value {
            Value::Object(_) => self
                .0
                .text_of_json(&PageLanguage::current(), value)
                .map(Value::String)
                .ok_or_else(|| "tr: not a message".into()),
            other => Ok(other.clone()),
        }
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

/// A timestamp (RFC 3339) or a date (YYYY-MM-DD), in Rome time, as the page's
/// language writes it (`format.date_time`; the date itself is day/month/year,
/// as in Italy and the UK).
struct When(Arc<Catalogues>);

impl tera::Filter for When {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        use chrono::Timelike;
        let text = value.as_str().unwrap_or_default();
        let shown = if let Ok(at) = text.parse::<chrono::DateTime<chrono::Utc>>() {
            let local = crate::time::rome_local(at);
            self.0
                .get(&PageLanguage::current(), "format.date_time")
                .replace("{date}", &crate::time::format_date(local.date()))
                .replace("{time}", &format!("{:02}:{:02}", local.hour(), local.minute()))
        } else if let Ok(date) = text.parse::<chrono::NaiveDate>() {
            crate::time::format_date(date)
        } else {
            text.to_string()
        };
        Ok(Value::String(shown))
    }
}

/// `{{ d.size | size }}`: a number of bytes as the page's language writes a
/// size ("1,5 MB", "1.5 MB").
struct Size(Arc<Catalogues>);

impl tera::Filter for Size {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        let bytes = value.as_u64().unwrap_or_default();
        Ok(Value::String(crate::time::format_size(bytes, &self.0, &PageLanguage::current())))
    }
}

/// Serialises JSON-LD so that it cannot close its `<script>` element early.
pub fn json_for_script(value: &serde_json::Value) -> String {
    value.to_string().replace("</", "<\\/").replace("<!--", "<\\!--")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A theme and two locales in a scratch folder: `page.html` uses `t()`
    /// directly, through a macro (which sees no context) and `when`.
    fn renderer() -> Renderer {
        let root = std::env::temp_dir().join(format!("sportello-render-{}", uuid::Uuid::new_v4().simple()));
        let templates = root.join("themes/base/templates");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::create_dir_all(root.join("locales")).unwrap();
        std::fs::write(
            templates.join("macros.html"),
            r#"{% macro hello(name) %}{{ t(k="greet", name=name) }}{% endmacro hello %}"#,
        )
        .unwrap();
        std::fs::write(
            templates.join("page.html"),
            r#"{% import "base/macros.html" as m %}{{ t(k="title") }}|{{ m::hello(name="Ada") }}|{{ at | when }}|{{ t(k="only_it") }}|{{ t(k="title", lang="it") }}"#,
        )
        .unwrap();
        std::fs::write(templates.join("sizes.html"), r#"{{ 1500000 | size }}|{{ 48213 | size }}|{{ 999 | size }}"#)
            .unwrap();
        let common = "only_it = \"solo italiano\"\n";
        std::fs::write(
            root.join("locales/it.toml"),
            format!("title = \"Titolo\"\ngreet = \"Ciao {{name}}\"\n{common}[format]\ndate_time = \"{{date}} alle {{time}}\"\ndecimal_separator = \",\"\nbytes = \"{{n}} byte\"\n"),
        )
        .unwrap();
        std::fs::write(
            root.join("locales/en.toml"),
            "title = \"Title\"\ngreet = \"Hello {name}\"\n[format]\ndate_time = \"{date} at {time}\"\ndecimal_separator = \".\"\nbytes = \"{n} bytes\"\n",
        )
        .unwrap();
        Renderer::load(&root.join("themes"), &root.join("locales")).unwrap()
    }

    fn render(renderer: &Renderer, lang: Option<&str>) -> String {
        let mut context = Context::new();
        if let Some(lang) = lang {
            context.insert("lang", lang);
        }
        context.insert("at", "2026-07-01T06:15:00Z");
        renderer.render("base", "page.html", &context).unwrap()
    }

    #[test]
    fn t_answers_in_the_language_of_the_page_even_inside_macros() {
        let renderer = renderer();
        assert_eq!(renderer.languages(), ["en", "it"]);
        assert_eq!(render(&renderer, Some("en")), "Title|Hello Ada|01&#x2F;07&#x2F;2026 at 08:15|solo italiano|Titolo");
        assert_eq!(
            render(&renderer, Some("it")),
            "Titolo|Ciao Ada|01&#x2F;07&#x2F;2026 alle 08:15|solo italiano|Titolo"
        );
        // No language in the context: the default, Italian.
        assert_eq!(render(&renderer, None), render(&renderer, Some("it")));
        // The page's language does not outlive its render.
        assert_eq!(PageLanguage::current(), DEFAULT_LANG);
        assert_eq!(renderer.translate_in("en", "greet"), "Hello {name}");
        assert_eq!(renderer.translate_in("it", "greet"), "Ciao {name}");
    }

    #[test]
    fn sizes_are_written_as_the_language_of_the_page_writes_them() {
        let renderer = renderer();
        let sizes = |lang: &str| {
            let mut context = Context::new();
            context.insert("lang", lang);
            renderer.render("base", "sizes.html", &context).unwrap()
        };
        assert_eq!(sizes("it"), "1,5 MB|48,2 kB|999 byte");
        assert_eq!(sizes("en"), "1.5 MB|48.2 kB|999 bytes");
    }

    #[test]
    fn italian_moments_read_exactly_as_before() {
        let renderer = renderer();
        let at: chrono::DateTime<chrono::Utc> = "2026-07-01T06:15:00Z".parse().unwrap();
        assert!(render(&renderer, Some("it")).contains(&tera::escape_html(&crate::time::format_rome_datetime(at))));
    }
}
