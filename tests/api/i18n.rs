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
        let entity = tail.find(';').filter(|&end| {
            end > 1 && end <= 10 && tail[1..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '#')
        });
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
                && all.iter().any(|(n, v)| n == "type" && matches!(v.to_ascii_lowercase().as_str(), "submit" | "button" | "reset"))
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
        let tag_name: String =
            tag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!').collect::<String>().to_ascii_lowercase();
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
