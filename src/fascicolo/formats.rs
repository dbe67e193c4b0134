//! File formats a case file may hold, told apart by their content, never by the name
//! the citizen gave the file: a renamed `.exe` must not pass for a PDF.
//!
//! The list follows AgID, "Linee guida sulla formazione, gestione e conservazione dei
//! documenti informatici" (2021), Allegato 2 "Formati di file e riversamento": of the
//! formats it recommends for formation and preservation we keep those a citizen or an
//! office plausibly attaches to a procedure and that can be recognised from the first
//! bytes:
//! - paginated documents: PDF (incl. PDF/A and PAdES-signed PDF);
//! - signed envelopes: P7M (CAdES, DER-encoded PKCS#7 signedData);
//! - structured text: XML (incl. XAdES and FatturaPA), SVG;
//! - office documents: ODF (ODT, ODS, ODP, ODG) and OOXML (DOCX, XLSX, PPTX);
//! - plain text: TXT, CSV;
//! - raster images: JPEG, PNG, TIFF, GIF;
//! - e-mail: EML (RFC 5322 messages, as PEC receipts are kept).
//!
//! Left out on purpose: formats Allegato 2 lists for audio/video, archives (ZIP, TAR),
//! HTML (active content), and base64-armoured P7M (it is text: a procedure that needs
//! it can be given it when the trust module verifies envelopes).

use std::fmt;

use crate::i18n::Text;

/// How many bytes are looked at before deciding; OOXML needs the names of the first
/// zip entries, which Office writes within the first few KiB.
pub const SNIFF_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Pdf,
    P7m,
    Xml,
    Svg,
    Odt,
    Ods,
    Odp,
    Odg,
    Docx,
    Xlsx,
    Pptx,
    Txt,
    Csv,
    Jpeg,
    Png,
    Tiff,
    Gif,
    Eml,
}

/// Every format of the AgID list above, in the order pages show them.
pub const AGID_FORMATS: &[Format] = &[
    Format::Pdf,
    Format::P7m,
    Format::Xml,
    Format::Svg,
    Format::Odt,
    Format::Ods,
    Format::Odp,
    Format::Odg,
    Format::Docx,
    Format::Xlsx,
    Format::Pptx,
    Format::Txt,
    Format::Csv,
    Format::Jpeg,
    Format::Png,
    Format::Tiff,
    Format::Gif,
    Format::Eml,
];

impl Format {
    /// The usual extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::P7m => "p7m",
            Format::Xml => "xml",
            Format::Svg => "svg",
            Format::Odt => "odt",
            Format::Ods => "ods",
            Format::Odp => "odp",
            Format::Odg => "odg",
            Format::Docx => "docx",
            Format::Xlsx => "xlsx",
            Format::Pptx => "pptx",
            Format::Txt => "txt",
            Format::Csv => "csv",
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Tiff => "tif",
            Format::Gif => "gif",
            Format::Eml => "eml",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::P7m => "application/pkcs7-mime",
            Format::Xml => "application/xml",
            Format::Svg => "image/svg+xml",
            Format::Odt => "application/vnd.oasis.opendocument.text",
            Format::Ods => "application/vnd.oasis.opendocument.spreadsheet",
            Format::Odp => "application/vnd.oasis.opendocument.presentation",
            Format::Odg => "application/vnd.oasis.opendocument.graphics",
            Format::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            Format::Txt => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Tiff => "image/tiff",
            Format::Gif => "image/gif",
            Format::Eml => "message/rfc822",
        }
    }

    /// What a citizen reads on the page ("Formati accettati: PDF, P7M (firmato), ..."):
    /// `upload.format.<extension>` in the catalogues.
    pub fn label(self) -> Text {
        Text::new(match self {
            Format::Pdf => "upload.format.pdf",
            Format::P7m => "upload.format.p7m",
            Format::Xml => "upload.format.xml",
            Format::Svg => "upload.format.svg",
            Format::Odt => "upload.format.odt",
            Format::Ods => "upload.format.ods",
            Format::Odp => "upload.format.odp",
            Format::Odg => "upload.format.odg",
            Format::Docx => "upload.format.docx",
            Format::Xlsx => "upload.format.xlsx",
            Format::Pptx => "upload.format.pptx",
            Format::Txt => "upload.format.txt",
            Format::Csv => "upload.format.csv",
            Format::Jpeg => "upload.format.jpg",
            Format::Png => "upload.format.png",
            Format::Tiff => "upload.format.tif",
            Format::Gif => "upload.format.gif",
            Format::Eml => "upload.format.eml",
        })
    }

    /// `"pdf"`, `".PDF"`, `"jpeg"`, `"tiff"`... Unknown extensions give `None`.
    pub fn from_extension(raw: &str) -> Option<Format> {
        let ext = raw.trim().trim_start_matches('.').to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => Format::Pdf,
            "p7m" => Format::P7m,
            "xml" => Format::Xml,
            "svg" => Format::Svg,
            "odt" => Format::Odt,
            "ods" => Format::Ods,
            "odp" => Format::Odp,
            "odg" => Format::Odg,
            "docx" => Format::Docx,
            "xlsx" => Format::Xlsx,
            "pptx" => Format::Pptx,
            "txt" => Format::Txt,
            "csv" => Format::Csv,
            "jpg" | "jpeg" => Format::Jpeg,
            "png" => Format::Png,
            "tif" | "tiff" => Format::Tiff,
            "gif" => Format::Gif,
            "eml" => Format::Eml,
            _ => return None,
        })
    }

    /// Whether content detected as `self` may be stored where `wanted` is accepted.
    /// Content alone cannot tell a CSV from any other text file, nor an e-mail
    /// message from a text that starts with header-like lines.
    pub fn satisfies(self, wanted: Format) -> bool {
        self == wanted || matches!((self, wanted), (Format::Txt, Format::Csv) | (Format::Eml, Format::Txt))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // For logs and operators: the extension, as files carry it.
        f.write_str(&self.extension().to_uppercase())
    }
}

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::from_extension(s).ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("formato sconosciuto: {0:?}")]
pub struct UnknownFormat(pub String);

/// The format of a file from its first bytes (`prefix`, at most [`SNIFF_BYTES`]).
/// `complete` says the prefix is the whole file, so a text cut in the middle of a
/// UTF-8 sequence is not forgiven.
pub fn detect(prefix: &[u8], complete: bool) -> Option<Format> {
    if prefix.is_empty() {
        return None;
    }
    if prefix.starts_with(b"%PDF-") || find(&prefix[..prefix.len().min(1024)], b"%PDF-").is_some() {
        // The PDF reference tolerates junk before the header within the first 1024 bytes.
        return Some(Format::Pdf);
    }
    if prefix.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if prefix.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if prefix.starts_with(b"II*\0") || prefix.starts_with(b"MM\0*") {
        return Some(Format::Tiff);
    }
    if prefix.starts_with(b"GIF87a") || prefix.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if prefix.starts_with(b"PK\x03\x04") {
        return detect_zip(prefix);
    }
    if is_pkcs7_signed_data(prefix) {
        return Some(Format::P7m);
    }
    let text = text_prefix(prefix, complete)?;
    detect_text(text)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// DER (or BER, indefinite length) SEQUENCE whose first element is the OID
/// 1.2.840.113549.1.7.2 (PKCS#7 signedData), i.e. a CAdES `.p7m` envelope.
fn is_pkcs7_signed_data(prefix: &[u8]) -> bool {
    const SIGNED_DATA_OID: &[u8] = &[0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    if prefix.first() != Some(&0x30) || prefix.len() < 2 {
        return false;
    }
    // Skip the length octets: short form, long form (0x81..0x84) or indefinite (0x80).
    let header = match prefix[1] {
        0x00..=0x80 => 2,
        0x81..=0x84 => 2 + usize::from(prefix[1] & 0x7F),
        _ => return false,
    };
    prefix.get(header..).is_some_and(|rest| rest.starts_with(SIGNED_DATA_OID))
}

/// ODF says what it is in its first entry, `mimetype`, stored uncompressed; OOXML has
/// `[Content_Types].xml` and a `word/`, `xl/` or `ppt/` folder. Entry names are read from
/// the local file headers found in the prefix (they are also found when sizes are
/// deferred to a data descriptor, as streaming zip writers do).
fn detect_zip(prefix: &[u8]) -> Option<Format> {
    let entries = zip_entries(prefix);
    if let Some((name, data)) = entries.first() {
        if *name == b"mimetype" {
            let mime = data.split(|b| b.is_ascii_whitespace()).next().unwrap_or_default();
            return match mime {
                b"application/vnd.oasis.opendocument.text" => Some(Format::Odt),
                b"application/vnd.oasis.opendocument.spreadsheet" => Some(Format::Ods),
                b"application/vnd.oasis.opendocument.presentation" => Some(Format::Odp),
                b"application/vnd.oasis.opendocument.graphics" => Some(Format::Odg),
                _ => None,
            };
        }
    }
    if !entries.iter().any(|(name, _)| *name == b"[Content_Types].xml") {
        return None;
    }
    entries.iter().find_map(|(name, _)| {
        if name.starts_with(b"word/") {
            Some(Format::Docx)
        } else if name.starts_with(b"xl/") {
            Some(Format::Xlsx)
        } else if name.starts_with(b"ppt/") {
            Some(Format::Pptx)
        } else {
            None
        }
    })
}

/// (name, the bytes after the header that are in the prefix) of each local file header.
fn zip_entries(prefix: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&prefix[at..], b"PK\x03\x04") {
        let start = at + found;
        at = start + 4;
        let Some(header) = prefix.get(start..start + 30) else { break };
        let name_len = usize::from(u16::from_le_bytes([header[26], header[27]]));
        let extra_len = usize::from(u16::from_le_bytes([header[28], header[29]]));
        let Some(name) = prefix.get(start + 30..start + 30 + name_len) else { break };
        let data_start = (start + 30 + name_len + extra_len).min(prefix.len());
        // The sizes are in the header unless deferred to a data descriptor (then 0); ODF
        // requires `mimetype` stored with its size, so its content is exactly known.
        let stored_size = u32::from_le_bytes([header[18], header[19], header[20], header[21]]) as usize;
        let take = if stored_size > 0 { stored_size.min(128) } else { 128 };
        let data = &prefix[data_start..prefix.len().min(data_start + take)];
        entries.push((name, data));
    }
    entries
}

/// The prefix as text when it is UTF-8 (a BOM allowed) with no NUL and no control
/// characters other than tab, newlines and form feed.
fn text_prefix(prefix: &[u8], complete: bool) -> Option<&str> {
    let bytes = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // The sniffed prefix may end inside a multi-byte character.
        Err(e) if !complete && e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    let clean = text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'));
    clean.then_some(text)
}

fn detect_text(text: &str) -> Option<Format> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml") || trimmed.starts_with("<svg") {
        return Some(if root_element_is_svg(trimmed) { Format::Svg } else { Format::Xml });
    }
    if looks_like_email(text) {
        return Some(Format::Eml);
    }
    Some(Format::Txt)
}

/// The first element that is not a processing instruction, comment or doctype.
fn root_element_is_svg(xml: &str) -> bool {
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/').collect();
        return name == "svg" || name.ends_with(":svg");
    }
    false
}

/// An RFC 5322 message: it opens with header fields, among them one every mail has.
fn looks_like_email(text: &str) -> bool {
    const TELLING: &[&str] = &["from", "received", "return-path", "message-id", "mime-version", "delivered-to"];
    let mut headers = 0;
    let mut telling = false;
    for line in text.lines().take(40) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue; // folded header
        }
        let Some((name, _)) = line.split_once(':') else { return false };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        headers += 1;
        telling |= TELLING.contains(&name.to_ascii_lowercase().as_str());
    }
    headers >= 2 && telling
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal zip: local file headers only, stored entries.
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(detect(b"%PDF-1.7\n...", false), Some(Format::Pdf));
        assert_eq!(detect(b"\xFF\xD8\xFF\xE0\0\x10JFIF", false), Some(Format::Jpeg));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", false), Some(Format::Png));
        assert_eq!(detect(b"II*\0\x08\0\0\0", false), Some(Format::Tiff));
        assert_eq!(detect(b"MM\0*\0\0\0\x08", false), Some(Format::Tiff));
        assert_eq!(detect(b"GIF89a\x01\0\x01\0", false), Some(Format::Gif));
    }

    #[test]
    fn executables_and_noise_are_nothing() {
        assert_eq!(detect(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", false), None);
        assert_eq!(detect(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff", false), None);
        let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        assert_eq!(detect(&noise, true), None);
        assert_eq!(detect(b"", true), None);
        assert_eq!(detect(&zip(&[("a.bin", b"x")]), false), None, "a plain zip is not on the list");
    }

    #[test]
    fn cades_envelope() {
        // What `openssl cms -sign -binary -nodetach -outform DER` starts with.
        let p7m = b"\x30\x82\x12\x34\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02\xA0\x82";
        assert_eq!(detect(p7m, false), Some(Format::P7m));
        let ber = b"\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x02\xA0\x80";
        assert_eq!(detect(ber, false), Some(Format::P7m));
        // envelopedData (…7.3) is not a signature.
        let enveloped = b"\x30\x82\x12\x34\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x03";
        assert_eq!(detect(enveloped, false), None);
    }

    #[test]
    fn xml_svg_text_and_mail() {
        assert_eq!(detect(b"\xEF\xBB\xBF<?xml version=\"1.0\"?><FatturaElettronica/>", true), Some(Format::Xml));
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE svg>\n<svg xmlns=\"x\"/>", true),
            Some(Format::Svg)
        );
        assert_eq!(detect(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", true), Some(Format::Svg));
        assert_eq!(detect("nome;cognome\nMario;Rossì\n".as_bytes(), true), Some(Format::Txt));
        let mail = b"Return-Path: <a@pec.it>\r\nReceived: from x\r\n\tby y\r\nSubject: ACCETTAZIONE\r\n\r\nbody";
        assert_eq!(detect(mail, true), Some(Format::Eml));
        assert_eq!(detect(b"Nota: importante\nAltro testo\n", true), Some(Format::Txt));
        assert_eq!(detect(b"testo\0con NUL", true), None);
    }

    #[test]
    fn utf8_cut_at_the_end_of_the_prefix() {
        let text = "è".repeat(10);
        let cut = &text.as_bytes()[..text.len() - 1];
        assert_eq!(detect(cut, false), Some(Format::Txt));
        assert_eq!(detect(cut, true), None, "the whole file must be valid UTF-8");
    }

    #[test]
    fn office_documents() {
        let odt = zip(&[("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<x/>")]);
        assert_eq!(detect(&odt, false), Some(Format::Odt));
        let ods = zip(&[("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")]);
        assert_eq!(detect(&ods, false), Some(Format::Ods));
        let odp = zip(&[("mimetype", b"application/vnd.oasis.opendocument.presentation")]);
        assert_eq!(detect(&odp, false), Some(Format::Odp));
        let docx =
            zip(&[("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<R/>"), ("word/document.xml", b"<w/>")]);
        assert_eq!(detect(&docx, false), Some(Format::Docx));
        let xlsx = zip(&[("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<w/>")]);
        assert_eq!(detect(&xlsx, false), Some(Format::Xlsx));
        let pptx = zip(&[("[Content_Types].xml", b"<Types/>"), ("ppt/presentation.xml", b"<p/>")]);
        assert_eq!(detect(&pptx, false), Some(Format::Pptx));
        let unknown_ooxml = zip(&[("[Content_Types].xml", b"<Types/>")]);
        assert_eq!(detect(&unknown_ooxml, false), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(Format::from_extension(".PDF"), Some(Format::Pdf));
        assert_eq!(Format::from_extension("jpeg"), Some(Format::Jpeg));
        assert_eq!(Format::from_extension("tiff"), Some(Format::Tiff));
        assert_eq!(Format::from_extension("exe"), None);
        for f in AGID_FORMATS {
            assert_eq!(Format::from_extension(f.extension()), Some(*f));
        }
        assert!(Format::Txt.satisfies(Format::Csv));
        assert!(!Format::Csv.satisfies(Format::Pdf));
    }
}
