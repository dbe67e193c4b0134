//! The name a citizen's file is shown with. Names are never used as storage keys
//! (keys are content hashes), so a hostile name cannot reach the filesystem or the
//! bucket; they are checked anyway because they travel on: into download headers,
//! into preservation packages and onto the disks of the offices that save them.

use super::UploadError;
use crate::i18n::Text;

/// At most this many bytes of UTF-8, so that a name fits a filesystem entry (255) with
/// room for a suffix, and a `Content-Disposition` header.
pub const MAX_NAME_BYTES: usize = 200;

/// Names Windows refuses, with or without an extension ("con.pdf" too).
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2",
    "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The name trimmed of surrounding whitespace, or `BadName` with a sentence for the page
/// (`upload.name.*`: why the name is refused).
pub fn safe_file_name(raw: &str) -> Result<String, UploadError> {
    let name = raw.trim();
    let bad = |why: Text| Err(UploadError::BadName(Text::new("upload.name.invalid").with_text("why", why)));
    if name.is_empty() {
        return bad(Text::new("upload.name.empty"));
    }
    if name.contains(['/', '\\']) {
        return bad(Text::new("upload.name.slashes"));
    }
    if name.chars().any(char::is_control) {
        return bad(Text::new("upload.name.control"));
    }
    // With no separators allowed, the name is its only path segment: `..` can only be the
    // whole of it (or its start, refused with every leading dot below).
    if name == "." || name == ".." {
        return bad(Text::new("upload.name.dots"));
    }
    if name.starts_with('.') {
        return bad(Text::new("upload.name.leading_dot"));
    }
    if name.len() > MAX_NAME_BYTES {
        return bad(Text::new("upload.name.too_long").with("max", MAX_NAME_BYTES));
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return bad(Text::new("upload.name.reserved").with("name", stem));
    }
    // Windows also drops trailing dots and spaces, which would turn "a.pdf." into "a.pdf".
    if name.ends_with('.') {
        return bad(Text::new("upload.name.trailing_dot"));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogues;

    fn refused(name: &str) -> bool {
        matches!(safe_file_name(name), Err(UploadError::BadName(_)))
    }

    #[test]
    fn ordinary_names_pass_trimmed() {
        assert_eq!(safe_file_name("  Domanda residenza.pdf \n").unwrap(), "Domanda residenza.pdf");
        assert_eq!(safe_file_name("planimetria v1..2.pdf").unwrap(), "planimetria v1..2.pdf");
        assert_eq!(safe_file_name("Perizia_è_ù.p7m").unwrap(), "Perizia_è_ù.p7m");
        assert_eq!(safe_file_name("console.pdf").unwrap(), "console.pdf");
    }

    #[test]
    fn traversal_and_separators_are_refused() {
        for name in ["", "   ", ".", "..", "../etc/passwd", "..\\boot.ini", "a/b.pdf", "a\\b.pdf", "..pdf"] {
            assert!(refused(name), "{name:?}");
        }
    }

    #[test]
    fn hidden_control_long_and_reserved_are_refused() {
        for name in [".bashrc", ".htaccess", "a\0b.pdf", "a\nb.pdf", "a\u{7f}.pdf", "CON", "con.pdf", "Lpt1.txt", "nul"]
        {
            assert!(refused(name), "{name:?}");
        }
        assert!(refused(&"a".repeat(MAX_NAME_BYTES + 1)));
        assert!(!refused(&"a".repeat(MAX_NAME_BYTES)));
        // 100 two-byte characters are 200 bytes: the limit is on bytes.
        assert!(refused(&"è".repeat(101)));
        assert!(refused("documento.pdf."));
    }

    #[test]
    fn messages_are_italian() {
        let Err(e) = safe_file_name("../x") else { panic!() };
        assert!(
            Catalogues::for_tests().text("it", &e.message()).starts_with("Il nome del file non è valido"),
            "{}",
            Catalogues::for_tests().text("it", &e.message())
        );
        assert_eq!(e.code(), "bad_file_name");
    }
}
