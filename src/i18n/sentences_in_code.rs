//! No Italian sentence is written in the code: every word a person reads comes
//! from `locales/`. This reads every `.rs` file of `src/` (unit tests and
//! `test_support.rs` files left out) and fails on a string literal that reads as
//! Italian. "Reads as Italian" is a heuristic: two or more words that exist only
//! in Italian ("il", "della", "non", "puoi"…), one of them with an accented
//! vowel, or a capitalised label holding a noun of this domain ("Documenti
//! allegati"). Log lines and internal errors are English by rule, so they never match.
//! A literal that is data, not a message (a sample recipe, a test fixture kept in
//! production code), carries `// i18n: data` on its line.

use std::path::{Path, PathBuf};

const ITALIAN_ONLY: &[&str] = &[
    "il",
    "lo",
    "gli",
    "di",
    "del",
    "dello",
    "della",
    "dei",
    "degli",
    "delle",
    "per",
    "non",
    "una",
    "che",
    "con",
    "è",
    "al",
    "alla",
    "allo",
    "ai",
    "da",
    "dal",
    "dalla",
    "sono",
    "nel",
    "nella",
    "puoi",
    "devi",
    "oppure",
    "già",
    "più",
    "questo",
    "questa",
    "tuo",
    "tua",
    "suo",
    "sua",
    "hai",
    "stato",
    "stata",
    "essere",
    "ancora",
    "sul",
    "sulla",
    "ed",
    "ad",
    "chi",
    "cui",
    "tra",
    "fra",
    "li",
    "ne",
    "gg",
    "entro",
    "inserisci",
    "indica",
    "scegli",
];

/// Italian nouns of this domain that are not English words: one of them in a
/// literal that reads as a label ("Documenti allegati", "Codice pratica") counts.
const DOMAIN_WORDS: &[&str] = &[
    "ricevuta",
    "pratica",
    "pratiche",
    "documento",
    "documenti",
    "allegato",
    "allegati",
    "protocollo",
    "procedimento",
    "ufficio",
    "presentata",
    "presentazione",
    "dimensione",
    "nessun",
    "nessuno",
    "nessuna",
    "termine",
    "campo",
    "risposta",
    "numero",
    "codice",
    "registrata",
    "istanza",
    "dati",
    "richiesta",
    "messaggio",
    "messaggi",
    "gentile",
    "scadenza",
    "motivazione",
    "cittadino",
    "comune",
    "allega",
    "compila",
    "rispondi",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// String literals (plain and raw) with the line each starts on.
fn literals(code: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = code.chars().collect();
    let (mut out, mut i, mut line) = (Vec::new(), 0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        } else if c == '\'' {
            // A char literal ('"' included) or a lifetime: skip 'x' and '\x'.
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                continue;
            }
            if chars.get(i + 1) == Some(&'\\') {
                if let Some(end) = chars[i + 2..].iter().position(|&c| c == '\'') {
                    i += end + 3;
                    continue;
                }
            }
        } else if c == 'r'
            && matches!(chars.get(i + 1), Some('"' | '#'))
            && !chars[i.saturating_sub(1)].is_alphanumeric()
        {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) == Some(&'"') {
                let start = i + 2 + hashes;
                let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                let rest: String = chars[start..].iter().collect();
                let end = rest.find(&close).unwrap_or(rest.len());
                let text: String = rest[..end].to_string();
                out.push((line, text.clone()));
                line += text.matches('\n').count();
                i = start + text.chars().count() + close.chars().count();
                continue;
            }
        } else if c == '"' {
            let (start_line, mut text) = (line, String::new());
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if chars.get(i) == Some(&'\n') {
                    line += 1;
                }
                if let Some(&c) = chars.get(i) {
                    text.push(c);
                }
                i += 1;
            }
            out.push((start_line, text));
        }
        i += 1;
    }
    out
}

fn reads_italian(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic() && c != '\'')
        .flat_map(|w| w.split('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let hits = words.iter().filter(|w| ITALIAN_ONLY.contains(&w.as_str())).count();
    let accented = text.chars().any(|c| "àèéìòù".contains(c));
    let label = text.starts_with(|c: char| c.is_uppercase())
        && words.iter().any(|w| DOMAIN_WORDS.contains(&w.as_str()))
        && !text.contains(['_', '/', '=', '<', '$']);
    hits >= 2 || (hits >= 1 && accented) || label
}

#[test]
fn no_italian_sentence_is_written_in_the_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "test_support.rs" || n == "sentences_in_code.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        let rel = format!("src/{}", file.strip_prefix(&src).unwrap().display());
        for (line, literal) in literals(code) {
            if reads_italian(&literal) && !lines.get(line - 1).is_some_and(|l| l.contains("// i18n: data")) {
                found.push(format!("{rel}:{line}: {}", literal.chars().take(70).collect::<String>()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} Italian sentences in the code; move them to locales/:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_plain_raw_and_multiline_literals() {
    let code = "let a = \"uno \\\"due\\\"\";\n// \"commento non visto\"\nlet b = r#\"tre\nquattro\"#; let c = '\"'; let d = \"cinque\";";
    let found: Vec<(usize, String)> = literals(code);
    assert_eq!(found, [(1, "uno \"due\"".to_string()), (3, "tre\nquattro".to_string()), (4, "cinque".to_string())]);
    assert!(reads_italian("Compila il campo «Nome»: è obbligatorio."));
    assert!(reads_italian("Codice pratica"));
    assert!(!reads_italian("reading the locale files failed"));
}
