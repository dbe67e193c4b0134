//! Languages: every word of the templates comes from the locale files, every
//! locale has every key, and each visitor gets the language they chose.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use crate::helpers::root;

fn template_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            template_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// Every theme's templates, as (path relative to the repository, text).
fn templates() -> Vec<(String, String)> {
    let mut files = Vec::new();
    template_files(&root().join("themes"), &mut files);
    files.sort();
    assert!(files.len() > 40, "templates not found under themes/");
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.strip_prefix(root()).unwrap().display().to_string(), text)
        })
        .collect()
}

/// Stands for a Tera block in the masked text: not a letter, so an expression
/// or a tag is never mistaken for words, and `{{ x }} giorni` still is.
const EXPRESSION: char = '\u{1}';

/// Text a reader would see that holds a word: letters left once the Tera
/// blocks and the HTML entities are taken out.
fn has_words(text: &str) -> bool {
    let mut rest = text;
    let mut plain = String::new();
    while let Some(at) = rest.find('&') {
        plain.push_str(&rest[..at]);
        let tail = &rest[at..];
        let entity = tail
            .find(';')
            .filter(|&end| end > 1 && end <= 10 && tail[1..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '#'));
        match entity {
            Some(end) => rest = &tail[end + 1..],
            None => {
                plain.push('&');
                rest = &tail[1..];
            }
        }
    }
    plain.push_str(rest);
    plain.chars().any(char::is_alphabetic)
}

/// A string literal inside a Tera block that reads like words for people (an
/// argument such as `parent_label="Pratiche"`), not like a name the code
/// compares or a path: it starts with a capital, or has a space between
/// letters, or a letter outside ASCII.
fn reads_like_words(literal: &str) -> bool {
    let starts_upper = literal.chars().next().is_some_and(char::is_uppercase);
    let spaced_words = literal.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count() > 1;
    let non_ascii_letter = literal.chars().any(|c| c.is_alphabetic() && !c.is_ascii());
    starts_upper || spaced_words || non_ascii_letter
}

/// Literals in the code of one Tera block that a reader would see; message
/// keys (`k="…"`) and the names of templates are not.
fn tera_literals(block: &str) -> Vec<String> {
    let code = block.trim_start_matches(['{', '%', '-', ' ']);
    if ["extends", "include", "import", "block", "endblock", "macro", "endmacro"].iter().any(|w| code.starts_with(w)) {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut chars = block.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if !matches!(c, '"' | '\'' | '`') {
            continue;
        }
        let mut literal = String::new();
        for (_, d) in chars.by_ref() {
            if d == c {
                break;
            }
            literal.push(d);
        }
        let before = block[..at].trim_end();
        if !before.ends_with("k=") && has_words(&literal) && reads_like_words(&literal) {
            found.push(literal);
        }
    }
    found
}

/// The template with every Tera block replaced by `EXPRESSION` (newlines kept,
/// so lines still count), and the suspicious literals found inside the blocks.
fn mask_tera(source: &str) -> (String, Vec<(usize, String)>) {
    let mut masked = String::with_capacity(source.len());
    let mut literals = Vec::new();
    let mut rest = source;
    let mut line = 1;
    while let Some(at) = rest.find('{') {
        let (before, tail) = rest.split_at(at);
        let close = match tail.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                masked.push_str(before);
                masked.push('{');
                line += before.matches('\n').count();
                rest = &tail[1..];
                continue;
            }
        };
        masked.push_str(before);
        line += before.matches('\n').count();
        let end = tail.find(close).map(|e| e + 2).unwrap_or(tail.len());
        let block = &tail[..end];
        if close != "#}" {
            literals.extend(tera_literals(block).into_iter().map(|l| (line, l)));
        }
        masked.push(EXPRESSION);
        let newlines = block.matches('\n').count();
        masked.extend(std::iter::repeat_n('\n', newlines));
        line += newlines;
        rest = &tail[end..];
    }
    masked.push_str(rest);
    (masked, literals)
}

/// `name="value"` pairs of one tag's inside (`a href="/" title="…"`).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start();
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '/' || c == '>').unwrap_or(rest.len());
        if name_end == 0 {
            if rest.is_empty() {
                break;
            }
            rest = &rest[1..];
            continue;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
            let (v, tail) = match quote {
                Some(q) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                None => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = v.to_string();
            rest = tail;
        }
        out.push((name, value));
    }
    out
}

/// Attributes a person reads or hears. A `<button>`'s `value` is what the form
/// sends, never shown; an `<input type="submit">`'s is its caption.
fn is_read_attribute(tag_name: &str, name: &str, all: &[(String, String)]) -> bool {
    match name {
        "aria-label" | "title" | "alt" | "placeholder" | "aria-placeholder" | "aria-roledescription" => true,
        "value" => {
            tag_name == "input"
                && all.iter().any(|(n, v)| {
                    n == "type" && matches!(v.to_ascii_lowercase().as_str(), "submit" | "button" | "reset")
                })
        }
        _ => false,
    }
}

/// Every piece of literal text of one template: (line, what).
fn literal_text(source: &str) -> Vec<(usize, String)> {
    let (masked, mut found) = mask_tera(source);
    let line_at = |at: usize| masked[..at].matches('\n').count() + 1;
    let mut at = 0;
    let mut text_start = 0;
    let flush = |found: &mut Vec<(usize, String)>, from: usize, to: usize| {
        let text = &masked[from..to];
        if has_words(text) {
            // Reported where the words start, on the lines that hold them.
            let first_letter = text.find(char::is_alphabetic).unwrap_or(0);
            let line_start = text[..first_letter].rfind('\n').map(|n| n + 1).unwrap_or(0);
            let shown = text[line_start..].trim().replace(EXPRESSION, "{{…}}").replace('\n', " ");
            found.push((line_at(from + first_letter), shown));
        }
    };
    while let Some(offset) = masked[at..].find('<') {
        let open = at + offset;
        let after = &masked[open + 1..];
        let starts_markup = after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!');
        if !starts_markup {
            at = open + 1;
            continue;
        }
        flush(&mut found, text_start, open);
        if after.starts_with("!--") {
            let end = after.find("-->").map(|e| open + 1 + e + 3).unwrap_or(masked.len());
            at = end;
            text_start = end;
            continue;
        }
        let close = after.find('>').map(|e| open + 1 + e + 1).unwrap_or(masked.len());
        let tag = &masked[open + 1..close - 1];
        let tag_name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase();
        let attrs = attributes(tag);
        for (name, value) in &attrs {
            if is_read_attribute(&tag_name, name, &attrs) && has_words(value) {
                found.push((line_at(open), format!("{name}=\"{}\"", value.replace(EXPRESSION, "{{…}}"))));
            }
        }
        at = close;
        text_start = close;
        // What scripts and styles hold is code, not text.
        if tag_name == "script" || tag_name == "style" {
            let end_tag = format!("</{tag_name}");
            let end = masked[close..].find(&end_tag).map(|e| close + e).unwrap_or(masked.len());
            at = end;
            text_start = end;
        }
    }
    flush(&mut found, text_start, masked.len());
    found.sort();
    found
}

#[test]
fn the_scanner_finds_literal_text_and_lets_expressions_through() {
    let template = "{% extends \"base/layout/page.html\" %}\n\
        <p>{{ t(k=\"cases.back\") }} · {{ n }}/{{ m }} &mdash; 0%</p>\n\
        <p>{{ x }} giorni</p>\n\
        <a title=\"Vai alla home\" href=\"/\">{{ t(k=\"nav.home\") }}</a>\n\
        <button type=\"submit\" name=\"mode\" value=\"otp\">{{ t(k=\"auth.code_submit\") }}</button>\n\
        <input type=\"submit\" value=\"Invia\">\n\
        {{ m::breadcrumb(current=\"Pratiche\", parent_url=\"/backoffice\") }}\n\
        {% if state == \"suspended\" %}<script>var a = \"Ciao mondo\";</script>{% endif %}\n\
        <!-- Una nota per chi legge il codice -->\n\
        {# Un commento di Tera #}\n\
        <img alt=\"\" src=\"/a.svg\"><img alt=\"{{ t(k=\"layout.logo_alt\", name=tenant.name) }}\" src=\"/b.svg\">\n\
        Una frase nuova, in italiano.\n";
    let found = literal_text(template);
    assert_eq!(
        found,
        vec![
            (3, "{{…}} giorni".to_string()),
            (4, "title=\"Vai alla home\"".to_string()),
            (6, "value=\"Invia\"".to_string()),
            (7, "Pratiche".to_string()),
            (12, "Una frase nuova, in italiano.".to_string()),
        ]
    );
}

#[test]
fn every_word_of_every_template_comes_from_the_locale_files() {
    let mut problems = Vec::new();
    for (file, source) in templates() {
        for (line, text) in literal_text(&source) {
            problems.push(format!("{file}:{line}: {text}"));
        }
    }
    assert!(problems.is_empty(), "literal text outside t() (add a key to locales/*.toml):\n{}", problems.join("\n"));
}

/// The CSP allows no inline style or script: a `style=` attribute, a `<style>`
/// or an inline `<script>` would be refused by every browser (the audits only
/// see the pages they visit; this sees every template).
#[test]
fn no_template_carries_inline_styles_or_scripts() {
    let mut problems = Vec::new();
    for (file, source) in templates() {
        for (i, line) in source.lines().enumerate() {
            // A JSON-LD block is data, never run: the CSP does not apply to it.
            let inline_script =
                line.contains("<script") && !line.contains(" src=") && !line.contains("application/ld+json");
            let handler = [" onclick=", " onload=", " onchange=", " onsubmit="].iter().any(|h| line.contains(h));
            if line.contains(" style=\"") || line.contains("<style") || inline_script || handler {
                problems.push(format!("{file}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "inline style or script (use sportello.css or a static script):\n{}",
        problems.join("\n")
    );
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            _ => {
                out.insert(key);
            }
        }
    }
}

/// language -> its keys, for every `locales/<lang>.toml`.
fn locale_keys() -> BTreeMap<String, BTreeSet<String>> {
    let mut by_lang = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("locales")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut keys = BTreeSet::new();
            flatten("", &table, &mut keys);
            by_lang.insert(path.file_stem().unwrap().to_string_lossy().to_string(), keys);
        }
    }
    by_lang
}

#[test]
fn every_locale_has_every_key() {
    let by_lang = locale_keys();
    assert!(by_lang.len() >= 2 && by_lang.contains_key("it") && by_lang.contains_key("en"), "{:?}", by_lang.keys());
    let all: BTreeSet<&String> = by_lang.values().flatten().collect();
    let mut missing = Vec::new();
    for (lang, keys) in &by_lang {
        for key in &all {
            if !keys.contains(*key) {
                missing.push(format!("locales/{lang}.toml: {key}"));
            }
        }
    }
    assert!(missing.is_empty(), "keys missing from a locale:\n{}", missing.join("\n"));
}

/// `t(k="a.b")` gives `a.b`; `t(k="cases.status." ~ s)` gives the prefix
/// `cases.status.` (marked by its trailing dot); `t(k=variable)` nothing.
fn keys_used(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("t(k=") {
            rest = &rest[at + 4..];
            let Some(quoted) = rest.strip_prefix('"') else { continue };
            let Some(end) = quoted.find('"') else { continue };
            let key = &quoted[..end];
            let concatenated = quoted[end + 1..].trim_start().starts_with('~');
            if concatenated && !key.ends_with('.') && !key.ends_with('_') {
                panic!("line {}: a computed key must start with a prefix ending in '.' or '_': {key}", number + 1);
            }
            found.push((number + 1, key.to_string()));
        }
    }
    found
}

#[test]
fn every_key_a_template_uses_is_in_every_locale() {
    let by_lang = locale_keys();
    let mut missing = Vec::new();
    let mut used = 0;
    for (file, source) in templates() {
        for (line, key) in keys_used(&source) {
            used += 1;
            for (lang, keys) in &by_lang {
                let known = if key.ends_with('.') || key.ends_with('_') {
                    keys.iter().any(|k| k.starts_with(&key) && k.len() > key.len())
                } else {
                    keys.contains(&key)
                };
                if !known {
                    missing.push(format!("{file}:{line}: {key} (locales/{lang}.toml)"));
                }
            }
        }
    }
    assert!(used > 300, "only {used} t() calls found: is the scan still reading the templates?");
    assert!(missing.is_empty(), "keys used by templates and missing from a locale:\n{}", missing.join("\n"));
}

// ---- Language choice ----------------------------------------------------------

use crate::{
    auth::{ROCCAMARE, VALMORA},
    helpers::{assert_translated, location, spawn_app, Browser, TestApp},
};

async fn page(app: &TestApp, host: &str, path: &str, headers: &[(&str, &str)]) -> (reqwest::header::HeaderMap, String) {
    let response = app.get_with(host, path, headers).await;
    assert_eq!(response.status(), 200, "GET {host}{path}");
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    assert_translated(&html);
    (headers, html)
}

fn cache_outcome(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get("x-page-cache").map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn accept_language_brings_the_english_page_and_a_cookie_beats_the_header() {
    let app = spawn_app().await;
    let (headers, english) = page(&app, VALMORA, "/", &[("accept-language", "en-GB,en;q=0.9,it;q=0.5")]).await;
    assert!(english.contains(r#"<html lang="en">"#), "{english}");
    assert!(english.contains(">All services<") && english.contains("Sign in to your personal area"));
    assert!(!english.contains("Tutti i servizi"));
    let vary = headers.get_all("vary").iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join(", ");
    assert!(vary.contains("Accept-Language") && vary.contains("Cookie"), "{vary}");

    let (_, italian) =
        page(&app, VALMORA, "/servizi", &[("accept-language", "en"), ("cookie", "sportello_lang=it")]).await;
    assert!(italian.contains(r#"<html lang="it">"#) && italian.contains("Tutti i servizi di Comune di Valmora"));
    let (_, english) =
        page(&app, VALMORA, "/servizi", &[("accept-language", "it"), ("cookie", "sportello_lang=en")]).await;
    assert!(english.contains(r#"<html lang="en">"#) && english.contains("All the services of Comune di Valmora"));

    // Error pages, the sign-in page and the platform follow too.
    let response = app.get_with(VALMORA, "/non-esiste", &[("accept-language", "en")]).await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"<html lang="en">"#) && html.contains("Page not found"), "{html}");
    let (_, access) = page(&app, VALMORA, "/accesso", &[("accept-language", "en")]).await;
    assert!(access.contains("How to sign in") && access.contains("Sign in with SPID"));
    let platform = format!("127.0.0.1:{}", app.port);
    let (_, home) = page(&app, &platform, "/", &[("accept-language", "en")]).await;
    assert!(home.contains(r#"<html lang="en">"#) && home.contains("Active councils"), "{home}");
    let (_, home) = page(&app, &platform, "/", &[]).await;
    assert!(home.contains(r#"<html lang="it">"#) && home.contains("Enti attivi"));
}

#[tokio::test]
async fn an_ente_offering_only_italian_ignores_english() {
    let app = spawn_app().await;
    let (headers, html) =
        page(&app, ROCCAMARE, "/", &[("accept-language", "en"), ("cookie", "sportello_lang=en")]).await;
    assert!(html.contains(r#"<html lang="it">"#) && html.contains("Tutti i servizi"));
    assert!(!html.contains(r#"data-element="language-menu""#), "one language, no menu");
    assert!(headers.get("vary").is_none_or(|v| !v.to_str().unwrap().contains("Accept-Language")));
    assert_eq!(app.get(ROCCAMARE, "/lingua/en?torna=/").await.status(), 404);
}

/// The header's links: `/lingua/en?torna=<this page>` sets the cookie and
/// comes back; so does the way back to Italian. Never to another site.
#[tokio::test]
async fn the_language_menu_switches_and_comes_back_to_the_same_page() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app, VALMORA);
    let italian = browser.get_text("/servizi/categoria/tributi").await;
    let link = "&#x2F;lingua&#x2F;en?torna=%2Fservizi%2Fcategoria%2Ftributi";
    assert!(italian.contains(link), "the menu links to English and back here");
    let response = browser.get("/lingua/en?torna=%2Fservizi%2Fcategoria%2Ftributi").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/servizi/categoria/tributi");
    assert_eq!(browser.cookies.get("sportello_lang").map(String::as_str), Some("en"));
    let english = browser.get_text("/servizi/categoria/tributi").await;
    assert!(english.contains(r#"<html lang="en">"#) && english.contains(">Services</a>"), "{english}");
    assert!(english.contains("&#x2F;lingua&#x2F;it?torna=%2Fservizi%2Fcategoria%2Ftributi"));

    let response = browser.get("/lingua/it?torna=%2Fservizi").await;
    assert_eq!(location(&response), "/servizi");
    assert!(browser.get_text("/servizi").await.contains(r#"<html lang="it">"#));

    for elsewhere in ["//evil.example/", "https://evil.example/", "%2F%2Fevil.example"] {
        let response = browser.get(&format!("/lingua/en?torna={elsewhere}")).await;
        assert_eq!(location(&response), "/", "{elsewhere}");
    }
    assert_eq!(browser.get("/lingua/fr?torna=/").await.status(), 404, "not offered");
}

#[tokio::test]
async fn the_page_cache_never_serves_an_english_page_to_an_italian_visitor() {
    let app = spawn_app().await;
    let (headers, english) = page(&app, VALMORA, "/servizi", &[("accept-language", "en")]).await;
    assert_eq!(cache_outcome(&headers).as_deref(), Some("miss"));
    assert!(english.contains(r#"<html lang="en">"#));

    let (headers, italian) = page(&app, VALMORA, "/servizi", &[]).await;
    assert_eq!(cache_outcome(&headers).as_deref(), Some("miss"), "the Italian answer is not the English one");
    assert!(italian.contains(r#"<html lang="it">"#));
    for visitor in [
        vec![],
        vec![("accept-language", "it-IT,it;q=0.9,en;q=0.8")],
        vec![("accept-language", "fr, de;q=0.5")],
        vec![("accept-language", "en"), ("cookie", "sportello_lang=it")],
    ] {
        let (headers, html) = page(&app, VALMORA, "/servizi", &visitor).await;
        assert_eq!(cache_outcome(&headers).as_deref(), Some("hit"), "{visitor:?}");
        assert_eq!(html, italian, "{visitor:?}");
    }
    for visitor in
        [vec![("accept-language", "en-US")], vec![("accept-language", "it"), ("cookie", "sportello_lang=en")]]
    {
        let (headers, html) = page(&app, VALMORA, "/servizi", &visitor).await;
        assert_eq!(cache_outcome(&headers).as_deref(), Some("hit"), "{visitor:?}");
        assert_eq!(html, english, "{visitor:?}");
    }
}

#[tokio::test]
async fn a_signed_in_visitor_sees_their_name_on_every_page_and_anonymous_pages_stay_cached() {
    let app = spawn_app().await;
    let anonymous = Browser::new(&app, VALMORA);
    let mut maria = crate::cases::citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let name = r#"data-element="signed-in-name">Maria Rossi<"#;
    for path in ["/area-personale", "/", "/servizi", "/area-personale/messaggi"] {
        let response = maria.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(cache_outcome(response.headers()), None, "{path}: a signed-in answer never touches the cache");
        let html = response.text().await.unwrap();
        assert!(html.contains(name), "{path}: {html}");
        assert!(!html.contains("personal-area-login"), "{path}");
        // The menu's sign-out form carries the visitor's own token.
        let token = &maria.cookies["sportello_csrf"];
        assert!(crate::helpers::carries_csrf_token(&html, token), "{path}");
        assert!(html.contains(r#"href="/area-personale/messaggi""#) && html.contains(r#"action="/accesso/esci""#));
    }
    // In English too.
    let html = maria.get_with("/area-personale", &[("accept-language", "en")]).await.text().await.unwrap();
    assert!(html.contains(name) && html.contains("<span>Messages</span>") && html.contains(">Sign out<"), "{html}");

    let mut anonymous = anonymous;
    for expected in ["miss", "hit"] {
        let response = anonymous.get("/").await;
        assert_eq!(cache_outcome(response.headers()).as_deref(), Some(expected));
        let html = response.text().await.unwrap();
        assert!(
            !html.contains("Maria Rossi") && !html.contains("signed-in-user") && html.contains("personal-area-login")
        );
    }

    // The header's sign-out is the real one.
    let response = maria.post("/accesso/esci", &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(maria.get("/area-personale").await.status(), 303, "signed out");
    assert!(!maria.get_text("/").await.contains("Maria Rossi"));
}

#[tokio::test]
async fn a_signed_in_visitors_error_pages_show_their_name_and_menu() {
    let app = spawn_app().await;
    let mut maria = crate::cases::citizen(&app, VALMORA, "maria@example.it", "347 123 4567").await;
    let name = r#"data-element="signed-in-name">Maria Rossi<"#;
    // Not found, and forbidden (a citizen at the back office).
    for (path, status) in [("/non-esiste", 404), ("/backoffice", 403)] {
        let response = maria.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(cache_outcome(response.headers()), None, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(name) && !html.contains("personal-area-login"), "{path}: {html}");
        let token = &maria.cookies["sportello_csrf"];
        assert!(crate::helpers::carries_csrf_token(&html, token), "{path}");
        assert!(html.contains(r#"action="/accesso/esci""#), "{path}");
    }
    // A browser that kept the session but lost its form cookie gets one with
    // the page, and the menu's sign-out works with it.
    maria.cookies.remove("sportello_csrf");
    let response = maria.get("/non-esiste").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    let token = maria.cookies.get("sportello_csrf").cloned().expect("a form cookie with the error page");
    assert!(html.contains(name) && crate::helpers::carries_csrf_token(&html, &token), "{html}");
    assert_eq!(maria.post("/accesso/esci", &[]).await.status(), 303);
    let response = maria.get("/non-esiste").await;
    assert!(!response.text().await.unwrap().contains("Maria Rossi"), "signed out");

    // Anonymous, the same page shows the sign-in link and sets nothing.
    let mut anonymous = Browser::new(&app, VALMORA);
    let response = anonymous.get("/non-esiste").await;
    assert_eq!(response.status(), 404);
    assert!(!response.headers().contains_key("set-cookie"));
    let html = response.text().await.unwrap();
    assert!(html.contains("personal-area-login") && !html.contains("signed-in-user"), "{html}");
}

#[test]
fn a_recipe_offering_a_language_without_a_locale_is_refused() {
    let dir = crate::helpers::scratch().join(format!("recipes-{}", uuid::Uuid::new_v4().simple())).join("lingue");
    std::fs::create_dir_all(&dir).unwrap();
    crate::helpers::copy_dir(&root().join("tenants/valmora"), &dir);
    let themes = vec!["base".to_string()];
    let languages = locale_keys().into_keys().collect::<Vec<_>>();
    let original = std::fs::read_to_string(dir.join("tenant.toml")).unwrap();
    let load = || sportello::onboarding::TenantRecipe::load(&dir, &themes, &languages);
    assert_eq!(load().unwrap().file.languages, ["it", "en"]);
    for (listed, expected) in [
        (r#"["it", "fr"]"#, r#""fr" has no locale file (languages available: en, it)"#),
        ("[]", "list at least one language"),
        (r#"["en", "en"]"#, r#""en" is listed twice"#),
    ] {
        let text = original.replace(r#"languages = ["it", "en"]"#, &format!("languages = {listed}"));
        std::fs::write(dir.join("tenant.toml"), text).unwrap();
        let error = load().err().expect("refused").to_string();
        assert!(error.contains("tenant.toml: languages") && error.contains(expected), "{error}");
    }
    // Not saying means Italian only.
    std::fs::write(dir.join("tenant.toml"), original.replace(r#"languages = ["it", "en"]"#, "")).unwrap();
    assert_eq!(load().unwrap().file.languages, ["it"]);
}
