//! The receipt ("ricevuta di presentazione") of a submitted application, as a PDF.
//!
//! The receipt is stored in the case file and downloaded again later, so it must be a pure
//! function of its input: no clock, no random file ID, no hash-map ordering. The registration
//! time comes from the input and the trailer /ID is a hash of the document body.
//!
//! Text uses the standard Type1 fonts Helvetica and Helvetica-Bold (never embedded, every reader
//! has them) in WinAnsiEncoding, which covers Italian (à è é ì ò ù, €, « »). Anything outside
//! it prints as '?'. Line breaking measures text with the fonts' AFM widths, embedded below and
//! also written into the font dictionaries so that readers lay the glyphs out the way we measured.
//!
//! Rendering is two passes: [`layout`] places every line on A4 pages as [`Op`]s, breaking pages
//! as it goes; only then is the page count known, so [`write_pdf`] adds "Pagina i di N" footers.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

use crate::time::{format_date, format_rome_datetime, format_size, rome_local, rome_offset_hours};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

/// One group of answers, printed under its title as label/value rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSection {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

/// An attached document, identified on the receipt by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptDocument {
    pub name: String,
    pub size: u64,
    /// Lowercase hex, 64 characters.
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    /// "Comune di Valmora"
    pub ente_name: &'a str,
    /// The office in charge of the procedure.
    pub office: &'a str,
    pub procedure_title: &'a str,
    /// The registry (protocollo) mark, e.g. "c_v412-2026-0000042".
    pub registry_mark: &'a str,
    /// Printed in Europe/Rome local time.
    pub registered_at: DateTime<Utc>,
    /// The case's short id shown to the citizen.
    pub case_reference: &'a str,
    /// "Mario Rossi (RSSMRA80A01H501U)"
    pub applicant: &'a str,
    /// "per conto di Alfa S.r.l. (P.IVA 01234567897)", printed under the applicant.
    pub acting_for: Option<&'a str>,
    pub sections: &'a [ReceiptSection],
    pub documents: &'a [ReceiptDocument],
    /// "Il procedimento si conclude entro il ..."
    pub legal_deadline: Option<NaiveDate>,
}

/// The closing sentence of every receipt.
pub const CLOSING_LINE: &str =
    "Questa ricevuta attesta la presentazione dell'istanza e il numero di protocollo assegnato.";

/// The receipt as PDF bytes; the same input always gives the same bytes.
pub fn render(receipt: &Receipt) -> Vec<u8> {
    let pages = layout(receipt);
    let meta = Meta {
        title: format!("Ricevuta di presentazione {}", receipt.registry_mark),
        author: receipt.ente_name,
        subject: receipt.procedure_title,
        footer: format!("Protocollo {}", receipt.registry_mark),
        created: receipt.registered_at,
    };
    write_pdf(&meta, &pages)
}

/// A document the office issues (a final act): text from the workflow's
/// template, under the ente's heading. Its registration is kept beside it (the
/// register holds this file's hash), not printed on it.
#[derive(Debug, Clone)]
pub struct Act<'a> {
    pub ente_name: &'a str,
    pub office: &'a str,
    pub title: &'a str,
    pub case_reference: &'a str,
    /// Paragraphs separated by blank lines.
    pub body: &'a str,
    pub issued_at: DateTime<Utc>,
}

pub fn render_act(act: &Act) -> Vec<u8> {
    let mut l = Layout::new(&format!("{} · {} · pratica {}", act.ente_name, act.title, act.case_reference));
    l.paragraph(act.ente_name, Font::Bold, 16.0, 0.0);
    l.paragraph(act.office, Font::Regular, BODY, GRAY_TEXT);
    l.gap(4.0);
    l.rule(0.0);
    l.gap(12.0);
    l.paragraph(act.title, Font::Bold, 14.0, 0.0);
    l.gap(8.0);
    for line in act.body.trim().lines() {
        if line.trim().is_empty() {
            l.gap(leading(BODY) / 2.0);
        } else {
            l.paragraph(line.trim_end(), Font::Regular, BODY, 0.0);
        }
    }
    let meta = Meta {
        title: format!("{} — pratica {}", act.title, act.case_reference),
        author: act.ente_name,
        subject: act.title,
        footer: format!("Pratica {}", act.case_reference),
        created: act.issued_at,
    };
    write_pdf(&meta, &l.pages)
}

/// What the PDF's info dictionary and footer say.
struct Meta<'a> {
    title: String,
    author: &'a str,
    subject: &'a str,
    footer: String,
    created: DateTime<Utc>,
}

/// The PDF date of `t`, in Rome local time with its offset (what readers show as "created").
fn pdf_date(t: DateTime<Utc>) -> Date {
    let l = rome_local(t);
    Date::new(l.year().clamp(0, 9999) as u16)
        .month(l.month() as u8)
        .day(l.day() as u8)
        .hour(l.hour() as u8)
        .minute(l.minute() as u8)
        .second(l.second() as u8)
        .utc_offset_hour(rome_offset_hours(t) as i8)
}

// ---------------------------------------------------------------------------------------------
// Text: WinAnsi encoding and Helvetica metrics.

/// `text` in WinAnsiEncoding (Windows-1252). Newlines are kept for the wrapper, tabs become
/// spaces, and anything WinAnsi lacks (or a control character) becomes '?'.
fn encode_winansi(text: &str) -> Vec<u8> {
    text.chars()
        .filter(|&c| c != '\r')
        .map(|c| match c {
            '\n' => b'\n',
            '\t' => b' ',
            ' '..='~' | '\u{A0}'..='\u{FF}' => c as u8,
            '€' => 0x80,
            '‚' => 0x82,
            'ƒ' => 0x83,
            '„' => 0x84,
            '…' => 0x85,
            '†' => 0x86,
            '‡' => 0x87,
            'ˆ' => 0x88,
            '‰' => 0x89,
            'Š' => 0x8A,
            '‹' => 0x8B,
            'Œ' => 0x8C,
            'Ž' => 0x8E,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '˜' => 0x98,
            '™' => 0x99,
            'š' => 0x9A,
            '›' => 0x9B,
            'œ' => 0x9C,
            'ž' => 0x9E,
            'Ÿ' => 0x9F,
            _ => b'?',
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The name in each page's resource dictionary.
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    fn base_font(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"Helvetica"),
            Font::Bold => Name(b"Helvetica-Bold"),
        }
    }

    /// Advance widths (1/1000 em) of codes 32..=255.
    fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        }
    }
}

/// Width in points of WinAnsi `text` set in `font` at `size`.
fn text_width(text: &[u8], font: Font, size: f32) -> f32 {
    let widths = font.widths();
    let units: u32 = text.iter().map(|&b| u32::from(if b >= 32 { widths[usize::from(b - 32)] } else { 0 })).sum();
    units as f32 * size / 1000.0
}

// Helvetica and Helvetica-Bold advance widths for WinAnsiEncoding codes 32..=255, from Adobe's
// Core 14 AFM files. Codes WinAnsi leaves undefined (0x7F, 0x81, 0x8D, 0x8F, 0x90, 0x9D) are 0:
// the encoder never produces them.
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0x30
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // 0x50
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // 0x60
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0, // 0x70
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500, // 0xF0
];
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // 0x20
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0x30
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // 0x40
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // 0x50
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // 0x60
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0, // 0x70
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, // 0x80
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, // 0x90
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, // 0xA0
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, // 0xB0
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, // 0xC0
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, // 0xD0
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, // 0xE0
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556, // 0xF0
];

/// Breaks WinAnsi `text` into lines no wider than `width`: at spaces, at explicit newlines, and
/// inside a word only when the word alone is too wide (a hash, a long file name). Always at least
/// one line, so an empty value still takes its row.
fn wrap(text: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
    let fits = |line: &[u8]| text_width(line, font, size) <= width;
    let mut lines = Vec::new();
    for paragraph in text.split(|&b| b == b'\n') {
        let mut line: Vec<u8> = Vec::new();
        for word in paragraph.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let mut candidate = line.clone();
            if !candidate.is_empty() {
                candidate.push(b' ');
            }
            candidate.extend_from_slice(word);
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word starts a line; if even that is too wide, cut it where it overflows.
            for &b in word {
                line.push(b);
                if !fits(&line) && line.len() > 1 {
                    line.pop();
                    lines.push(std::mem::replace(&mut line, vec![b]));
                }
            }
        }
        lines.push(line);
    }
    lines
}

// ---------------------------------------------------------------------------------------------
// Layout: A4 pages, 2 cm margins, a footer band below BOTTOM.

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 56.7;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const TOP: f32 = PAGE_H - MARGIN;
/// Body text stays above this line; the footer sits below it.
const BOTTOM: f32 = 72.0;
const FOOTER_BASELINE: f32 = 40.0;
/// The label column of label/value rows, and the gap before the value column.
const LABEL_W: f32 = 150.0;
const GUTTER: f32 = 14.0;
const VALUE_X: f32 = MARGIN + LABEL_W + GUTTER;
const VALUE_W: f32 = CONTENT_W - LABEL_W - GUTTER;
/// The size column of the documents table (right-aligned at the right margin).
const SIZE_W: f32 = 70.0;

const BODY: f32 = 10.0;
const LABEL: f32 = 9.0;
const SMALL: f32 = 7.5;
const GRAY_TEXT: f32 = 0.35;
const GRAY_RULE: f32 = 0.6;

/// Distance from one baseline to the next.
fn leading(size: f32) -> f32 {
    size * 1.3
}

/// One drawing operation, in PDF points from the bottom-left corner.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    /// WinAnsi text with its baseline starting at (x, y).
    Text { x: f32, y: f32, font: Font, size: f32, gray: f32, text: Vec<u8> },
    /// A horizontal rule.
    Rule { x: f32, y: f32, w: f32, gray: f32 },
    /// A filled rectangle, drawn under the text placed after it.
    Fill { x: f32, y: f32, w: f32, h: f32, gray: f32 },
}

/// Places content top-down on pages; `y` is the top of the next line.
struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Repeated at the top of every page after the first, so a loose page still says what it is.
    running_head: Vec<u8>,
    /// Where the body starts on the current page: a break here would loop forever.
    page_top: f32,
}

impl Layout {
    fn new(running_head: &str) -> Self {
        Layout { pages: vec![Vec::new()], y: TOP, running_head: encode_winansi(running_head), page_top: TOP }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("there is always a page").push(op);
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
        let head = self.running_head.clone();
        for line in wrap(&head, Font::Regular, LABEL, CONTENT_W) {
            self.place_line(MARGIN, Font::Regular, LABEL, GRAY_TEXT, line);
        }
        self.y -= 3.0;
        self.rule(GRAY_RULE);
        self.y -= 10.0;
        self.page_top = self.y;
    }

    /// Starts a new page unless `height` more fits on this one. Callers ask for a whole block
    /// (a row, a document) when it can fit on a page, so that it is not split.
    fn ensure(&mut self, height: f32) {
        let height = height.min(self.page_top - BOTTOM);
        if self.y - height < BOTTOM && self.y < self.page_top {
            self.new_page();
        }
    }

    fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// Places one line at the current position without checking for room.
    fn place_line(&mut self, x: f32, font: Font, size: f32, gray: f32, text: Vec<u8>) {
        // The baseline sits one em-ish below the line top, leaving room for accented capitals.
        let baseline = self.y - size;
        self.push(Op::Text { x, y: baseline, font, size, gray, text });
        self.y -= leading(size);
    }

    /// A wrapped paragraph across the full content width, breaking pages between lines.
    fn paragraph(&mut self, text: &str, font: Font, size: f32, gray: f32) {
        for line in wrap(&encode_winansi(text), font, size, CONTENT_W) {
            self.ensure(leading(size));
            self.place_line(MARGIN, font, size, gray, line);
        }
    }

    fn rule(&mut self, gray: f32) {
        let y = self.y;
        self.push(Op::Rule { x: MARGIN, y, w: CONTENT_W, gray });
    }

    /// A section title with a rule under it, kept on the same page as the first `keep_with`
    /// points of what follows, so that a title never ends a page alone.
    fn heading(&mut self, title: &str, keep_with: f32) {
        const SIZE: f32 = 11.0;
        let lines = wrap(&encode_winansi(title), Font::Bold, SIZE, CONTENT_W).len();
        self.gap(8.0);
        self.ensure(lines as f32 * leading(SIZE) + 6.0 + keep_with);
        self.paragraph(title, Font::Bold, SIZE, 0.0);
        self.gap(1.0);
        self.rule(GRAY_RULE);
        self.gap(5.0);
    }

    /// A label/value row: both columns wrap, lines are paired top-down; the row is kept whole
    /// when it fits on one page, and otherwise breaks between lines.
    fn row(&mut self, label: &str, value: &str) {
        let value = if value.trim().is_empty() { "—" } else { value };
        let labels = wrap(&encode_winansi(label), Font::Regular, LABEL, LABEL_W);
        let values = wrap(&encode_winansi(value), Font::Regular, BODY, VALUE_W);
        let lines = labels.len().max(values.len());
        let line_h = leading(BODY);
        self.ensure(lines as f32 * line_h);
        let (mut labels, mut values) = (labels.into_iter(), values.into_iter());
        for _ in 0..lines {
            self.ensure(line_h);
            let top = self.y;
            if let Some(l) = labels.next() {
                // The smaller label shares the value's baseline.
                self.push(Op::Text {
                    x: MARGIN,
                    y: top - BODY,
                    font: Font::Regular,
                    size: LABEL,
                    gray: GRAY_TEXT,
                    text: l,
                });
            }
            if let Some(v) = values.next() {
                self.push(Op::Text { x: VALUE_X, y: top - BODY, font: Font::Regular, size: BODY, gray: 0.0, text: v });
            }
            self.y -= line_h;
        }
        self.gap(3.0);
    }

    /// Right-aligned text on the line whose top is `top`.
    fn right_aligned(&mut self, top: f32, font: Font, size: f32, gray: f32, text: &str) {
        let text = encode_winansi(text);
        let x = PAGE_W - MARGIN - text_width(&text, font, size);
        self.push(Op::Text { x, y: top - size, font, size, gray, text });
    }
}

/// Lays the receipt out on pages (without footers, which need the page count).
fn layout(r: &Receipt) -> Vec<Vec<Op>> {
    let mut l = Layout::new(&format!("{} · Ricevuta di presentazione {}", r.ente_name, r.registry_mark));

    // Header: who issues the receipt.
    l.paragraph(r.ente_name, Font::Bold, 16.0, 0.0);
    l.paragraph(r.office, Font::Regular, BODY, GRAY_TEXT);
    l.gap(4.0);
    l.rule(0.0);
    l.gap(12.0);
    l.paragraph("Ricevuta di presentazione", Font::Bold, 14.0, 0.0);
    l.paragraph(r.procedure_title, Font::Regular, 11.0, 0.0);
    l.gap(10.0);
    registry_box(&mut l, r);

    // Rows are kept with their heading for at least two lines' worth.
    let first_row = 2.0 * leading(BODY);
    l.heading("Dati dell'istanza", first_row);
    l.row("Procedimento", r.procedure_title);
    l.row("Ufficio competente", r.office);
    l.row("Codice pratica", r.case_reference);
    let applicant = match r.acting_for {
        Some(acting_for) => format!("{}\n{}", r.applicant, acting_for),
        None => r.applicant.to_string(),
    };
    l.row("Presentata da", &applicant);
    l.row("Data di presentazione", &format_rome_datetime(r.registered_at));
    if let Some(deadline) = r.legal_deadline {
        l.row("Termine di conclusione", &format_date(deadline));
    }

    for section in r.sections {
        l.heading(&section.title, first_row);
        for (label, value) in &section.rows {
            l.row(label, value);
        }
    }

    documents_table(&mut l, r.documents);

    l.gap(14.0);
    if let Some(deadline) = r.legal_deadline {
        l.paragraph(
            &format!(
                "Il procedimento si conclude entro il {}, salvo sospensioni o interruzioni previste dalla legge.",
                format_date(deadline)
            ),
            Font::Regular,
            BODY,
            0.0,
        );
        l.gap(4.0);
    }
    l.paragraph(CLOSING_LINE, Font::Regular, BODY, 0.0);
    l.pages
}

/// The registry mark, big, on a light band with the registration time.
fn registry_box(l: &mut Layout, r: &Receipt) {
    const PAD: f32 = 8.0;
    const MARK: f32 = 20.0;
    let inner_w = CONTENT_W - 2.0 * PAD;
    let mark = wrap(&encode_winansi(r.registry_mark), Font::Bold, MARK, inner_w);
    let when = format!("Registrata il {}", format_rome_datetime(r.registered_at));
    let height = 2.0 * PAD + leading(LABEL) + mark.len() as f32 * leading(MARK) + leading(BODY);
    l.ensure(height);
    let top = l.y;
    l.push(Op::Fill { x: MARGIN, y: top - height, w: CONTENT_W, h: height, gray: 0.93 });
    l.gap(PAD);
    l.place_line(MARGIN + PAD, Font::Regular, LABEL, GRAY_TEXT, encode_winansi("Numero di protocollo"));
    for line in mark {
        l.place_line(MARGIN + PAD, Font::Bold, MARK, 0.0, line);
    }
    l.place_line(MARGIN + PAD, Font::Regular, BODY, 0.0, encode_winansi(&when));
    l.y = top - height;
}

/// Name and size on one line (the name wraps), the full SHA-256 below in a smaller font.
fn documents_table(l: &mut Layout, documents: &[ReceiptDocument]) {
    if documents.is_empty() {
        l.heading("Documenti allegati", leading(BODY));
        l.paragraph("Nessun documento allegato.", Font::Regular, BODY, 0.0);
        return;
    }
    let blocks: Vec<DocumentBlock> = documents.iter().map(DocumentBlock::new).collect();
    // The heading and the column titles stay with the first document.
    let header = leading(LABEL) + 3.0;
    l.heading("Documenti allegati", header + blocks[0].height());
    let top = l.y;
    l.place_line(MARGIN, Font::Bold, LABEL, 0.0, encode_winansi("Documento"));
    l.right_aligned(top, Font::Bold, LABEL, 0.0, "Dimensione");
    l.gap(3.0);
    for block in blocks {
        l.ensure(block.height());
        l.rule(0.85);
        l.gap(4.0);
        for (i, name) in block.name.into_iter().enumerate() {
            l.ensure(leading(BODY));
            let top = l.y;
            l.place_line(MARGIN, Font::Regular, BODY, 0.0, name);
            if i == 0 {
                l.right_aligned(top, Font::Regular, BODY, 0.0, &block.size);
            }
        }
        for line in block.hash {
            l.ensure(leading(SMALL));
            l.place_line(MARGIN, Font::Regular, SMALL, GRAY_TEXT, line);
        }
        l.gap(4.0);
    }
}

/// One document of the table, wrapped and measured before it is placed.
struct DocumentBlock {
    name: Vec<Vec<u8>>,
    size: String,
    hash: Vec<Vec<u8>>,
}

impl DocumentBlock {
    fn new(doc: &ReceiptDocument) -> Self {
        DocumentBlock {
            name: wrap(&encode_winansi(&doc.name), Font::Regular, BODY, CONTENT_W - SIZE_W - GUTTER),
            size: format_size(doc.size),
            hash: wrap(&encode_winansi(&format!("SHA-256 {}", doc.sha256)), Font::Regular, SMALL, CONTENT_W),
        }
    }

    /// Rule and padding included.
    fn height(&self) -> f32 {
        4.0 + self.name.len() as f32 * leading(BODY) + self.hash.len() as f32 * leading(SMALL) + 4.0
    }
}

// ---------------------------------------------------------------------------------------------
// PDF objects.

const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const FONTS: [(Font, Ref); 2] = [(Font::Regular, Ref::new(4)), (Font::Bold, Ref::new(5))];

/// Page `i` (from 0) and its content stream.
fn page_refs(i: usize) -> (Ref, Ref) {
    let n = 6 + 2 * i32::try_from(i).expect("page count fits i32");
    (Ref::new(n), Ref::new(n + 1))
}

fn write_pdf(r: &Meta, pages: &[Vec<Op>]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    {
        let mut catalog = pdf.catalog(CATALOG);
        catalog.pages(PAGE_TREE).lang(TextStr("it-IT"));
        catalog.viewer_preferences().display_doc_title(true);
    }
    let count = pages.len();
    pdf.pages(PAGE_TREE).kids((0..count).map(|i| page_refs(i).0)).count(count as i32);

    for (i, ops) in pages.iter().enumerate() {
        let (page_id, content_id) = page_refs(i);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(PAGE_TREE).contents(content_id);
        {
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            for (font, id) in FONTS {
                fonts.pair(font.resource(), id);
            }
        }
        page.finish();
        let content = page_content(ops, &footer(r, i + 1, count));
        pdf.stream(content_id, &content);
    }

    for (font, id) in FONTS {
        pdf.type1_font(id)
            .base_font(font.base_font())
            .encoding_predefined(Name(b"WinAnsiEncoding"))
            .first_char(32)
            .last_char(255)
            .widths(font.widths().iter().map(|&w| f32::from(w)));
    }

    pdf.document_info(INFO)
        .title(TextStr(&r.title))
        .author(TextStr(r.author))
        .subject(TextStr(r.subject))
        .creator(TextStr("Sportello"))
        .creation_date(pdf_date(r.created));

    // The file identifier is meant to be unique per document; deriving it from everything
    // written so far keeps it so while leaving the output a function of the input.
    let digest = Sha256::digest(pdf.as_bytes());
    let id = digest[..16].to_vec();
    pdf.set_file_id((id.clone(), id));
    pdf.finish()
}

/// "Pagina i di N" on the right, the registry mark on the left, under a rule.
fn footer(r: &Meta, page: usize, count: usize) -> Vec<Op> {
    let right = encode_winansi(&format!("Pagina {page} di {count}"));
    let right_x = PAGE_W - MARGIN - text_width(&right, Font::Regular, SMALL);
    let mut left = encode_winansi(&r.footer);
    // Never let a freakishly long mark run into the page number.
    while left.len() > 1 && text_width(&left, Font::Regular, SMALL) > right_x - MARGIN - GUTTER {
        left.pop();
    }
    vec![
        Op::Rule { x: MARGIN, y: FOOTER_BASELINE + 12.0, w: CONTENT_W, gray: GRAY_RULE },
        Op::Text { x: MARGIN, y: FOOTER_BASELINE, font: Font::Regular, size: SMALL, gray: GRAY_TEXT, text: left },
        Op::Text { x: right_x, y: FOOTER_BASELINE, font: Font::Regular, size: SMALL, gray: GRAY_TEXT, text: right },
    ]
}

fn page_content(ops: &[Op], footer: &[Op]) -> Vec<u8> {
    let mut c = Content::new();
    for op in ops.iter().chain(footer) {
        match op {
            Op::Text { x, y, font, size, gray, text } => {
                c.begin_text();
                c.set_fill_gray(*gray);
                c.set_font(font.resource(), *size);
                c.next_line(*x, *y);
                c.show(Str(text));
                c.end_text();
            }
            Op::Rule { x, y, w, gray } => {
                c.set_stroke_gray(*gray);
                c.set_line_width(0.5);
                c.move_to(*x, *y);
                c.line_to(x + w, *y);
                c.stroke();
            }
            Op::Fill { x, y, w, h, gray } => {
                c.set_fill_gray(*gray);
                c.rect(*x, *y, *w, *h);
                c.fill_nonzero();
            }
        }
    }
    c.finish().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::process::Command;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn documents() -> Vec<ReceiptDocument> {
        vec![
            ReceiptDocument { name: "Planimetria piano terra.pdf".into(), size: 1_234_567, sha256: HASH.into() },
            ReceiptDocument { name: "Documento d'identità.jpg".into(), size: 48_213, sha256: "ab".repeat(32) },
        ]
    }

    fn sections(extra_rows: usize) -> Vec<ReceiptSection> {
        let mut rows = vec![
            ("Attività".to_string(), "Somministrazione di alimenti e bevande".to_string()),
            ("Importo dei lavori".to_string(), "€ 1.500,00 «stima»".to_string()),
            ("Città".to_string(), "Valmora".to_string()),
        ];
        rows.extend(
            (0..extra_rows).map(|i| (format!("Campo {i}"), format!("Risposta numero {i} con un po' di testo"))),
        );
        vec![ReceiptSection { title: "Dati dell'attività".into(), rows }]
    }

    fn receipt<'a>(sections: &'a [ReceiptSection], documents: &'a [ReceiptDocument]) -> Receipt<'a> {
        Receipt {
            ente_name: "Comune di Valmora",
            office: "Sportello Unico per le Attività Produttive",
            procedure_title: "SCIA per l'avvio di un esercizio di vicinato",
            registry_mark: "c_v412-2026-0000042",
            // 07:15 UTC in November is 08:15 in Rome (CET).
            registered_at: Utc.with_ymd_and_hms(2026, 11, 26, 7, 15, 0).unwrap(),
            case_reference: "PR-7K3Q",
            applicant: "Mario Rossi (RSSMRA80A01H501U)",
            acting_for: Some("per conto di Alfa S.r.l. (P.IVA 01234567897)"),
            sections,
            documents,
            legal_deadline: NaiveDate::from_ymd_opt(2027, 1, 25),
        }
    }

    /// Runs a poppler tool on `pdf`; its stderr must be empty (poppler reports syntax errors
    /// there and still exits 0).
    fn poppler(tool: &str, args: &[&str], pdf: &[u8], name: &str) -> String {
        let path = std::env::temp_dir().join(format!("sportello-receipt-{}-{name}.pdf", std::process::id()));
        std::fs::write(&path, pdf).unwrap();
        let out =
            Command::new(tool).args(args).arg(&path).arg("-").output().unwrap_or_else(|e| {
                panic!("{tool} not runnable ({e}): install poppler-utils (scripts/setup.sh --test)")
            });
        std::fs::remove_file(&path).ok();
        assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{tool} complained: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn pdfinfo(pdf: &[u8], name: &str) -> String {
        let path = std::env::temp_dir().join(format!("sportello-receipt-{}-{name}.pdf", std::process::id()));
        std::fs::write(&path, pdf).unwrap();
        let out = Command::new("pdfinfo").arg(&path).output().expect("pdfinfo (poppler-utils)");
        std::fs::remove_file(&path).ok();
        assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn same_input_same_bytes() {
        let (s, d) = (sections(3), documents());
        let a = render(&receipt(&s, &d));
        let b = render(&receipt(&s, &d));
        assert_eq!(a, b);
        let mut later = receipt(&s, &d);
        later.registered_at += chrono::TimeDelta::minutes(1);
        assert_ne!(render(&later), a, "the time is part of the content, and so of the file ID");
    }

    #[test]
    fn text_is_extractable_and_complete() {
        let (s, d) = (sections(3), documents());
        let pdf = render(&receipt(&s, &d));
        let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf, "short");
        for expected in [
            "Comune di Valmora",
            "Ricevuta di presentazione",
            "c_v412-2026-0000042",
            "Registrata il 26/11/2026 alle 08:15",
            "Attività",
            "Sportello Unico per le Attività Produttive",
            "€ 1.500,00 «stima»",
            "Documento d'identità.jpg",
            HASH,
            "1,2 MB",
            "48,2 kB",
            "per conto di Alfa S.r.l. (P.IVA 01234567897)",
            "Il procedimento si conclude entro il 25/01/2027",
            CLOSING_LINE,
            "Pagina 1 di 1",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
        let info = pdfinfo(&pdf, "short-info");
        assert!(info.contains("Title:           Ricevuta di presentazione c_v412-2026-0000042"), "{info}");
        assert!(info.contains("Author:          Comune di Valmora"), "{info}");
        assert!(info.contains("Page size:       595.28 x 841.89 pts (A4)"), "{info}");
        assert!(info.contains("Pages:           1"), "{info}");
        // pdfinfo prints the creation date in its own locale/zone; the raw one is in the file.
        assert!(pdf.windows(24).any(|w| w == b"(D:20261126081500+01'00)"), "CreationDate in Rome time");
        assert!(pdf.windows(13).any(|w| w == b"/Lang (it-IT)"));
    }

    #[test]
    fn long_input_breaks_pages_and_numbers_them() {
        let (s, d) = (sections(40), documents());
        let pdf = render(&receipt(&s, &d));
        assert!(pdfinfo(&pdf, "long-info").contains("Pages:           2"));
        let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf, "long");
        assert!(text.contains("Pagina 1 di 2") && text.contains("Pagina 2 di 2"), "{text}");
        assert!(text.contains("Risposta numero 39 con un po' di testo"));
        assert!(text.contains(HASH) && text.contains(CLOSING_LINE));
    }

    /// Every piece of text lies inside the margins, and body text above the footer band.
    fn assert_inside(pages: &[Vec<Op>]) {
        for ops in pages {
            for op in ops {
                if let Op::Text { x, y, font, size, text, .. } = op {
                    let right = x + text_width(text, *font, *size);
                    assert!(*x >= MARGIN - 0.01 && right <= PAGE_W - MARGIN + 0.01, "overflow: {op:?} ends at {right}");
                    assert!(*y >= BOTTOM - 0.01 - size && *y <= TOP, "out of the body: {op:?}");
                }
            }
        }
    }

    #[test]
    fn long_values_wrap_inside_the_margins() {
        let long_words = "parola ".repeat(300);
        let unbroken = "X".repeat(400);
        let s = vec![ReceiptSection {
            title: "Descrizione ".repeat(20),
            rows: vec![
                ("Descrizione dell'intervento edilizio con un'etichetta lunga".into(), long_words.clone()),
                ("Codice".into(), unbroken.clone()),
                ("Note".into(), "prima riga\nseconda riga\n\nquarta riga".into()),
            ],
        }];
        let d = vec![ReceiptDocument {
            name: format!("{}.pdf", "nome_lunghissimo".repeat(20)),
            size: 999,
            sha256: HASH.into(),
        }];
        let r = receipt(&s, &d);
        let pages = layout(&r);
        assert!(pages.len() >= 2, "300 words should need a second page");
        assert_inside(&pages);
        // The table's column titles are not left alone at the bottom of a page.
        let page_of = |prefix: &[u8]| {
            pages
                .iter()
                .position(|ops| ops.iter().any(|op| matches!(op, Op::Text { text, .. } if text.starts_with(prefix))))
        };
        assert_eq!(page_of(b"Dimensione"), page_of(b"SHA-256"));
        assert_eq!(page_of(b"Documenti allegati"), page_of(b"SHA-256"));

        // The same check on what a reader actually renders: every word's box within the margins.
        let pdf = render(&r);
        let bbox = poppler("pdftotext", &["-bbox", "-enc", "UTF-8"], &pdf, "wrap");
        let mut words = 0;
        for line in bbox.lines().filter(|l| l.trim_start().starts_with("<word")) {
            let attr = |name: &str| -> f32 {
                let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                line[start..][..line[start..].find('"').unwrap()].parse().unwrap()
            };
            assert!(attr("xMin") >= MARGIN - 1.0 && attr("xMax") <= PAGE_W - MARGIN + 1.0, "{line}");
            words += 1;
        }
        assert!(words > 300);
        let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf, "wrap-text");
        assert_eq!(text.matches('X').count(), 400, "the unbroken value is cut into lines, not clipped");
        assert!(text.contains("quarta riga"));
    }

    #[test]
    fn characters_outside_winansi_become_question_marks() {
        assert_eq!(encode_winansi("àèéìòù €«»"), b"\xe0\xe8\xe9\xec\xf2\xf9 \x80\xab\xbb");
        assert_eq!(encode_winansi("Łódź 東京 😀\u{301}\u{7}"), b"?\xf3d? ?? ???");
        let s = vec![ReceiptSection {
            title: "Łódź 東京".into(),
            rows: vec![("😀".into(), "Straße → Zürich ✓ Ω".into()), ("\u{0}\u{1b}[31m".into(), "".into())],
        }];
        let d = vec![ReceiptDocument { name: "файл.pdf".into(), size: 0, sha256: HASH.into() }];
        let mut r = receipt(&s, &d);
        r.applicant = "Dvořák (ŽLUTÝ)";
        let pdf = render(&r);
        let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf, "non-winansi");
        assert!(text.contains("Straße ? Zürich ? ?"), "{text}");
        assert!(text.contains("????.pdf") && text.contains("0 byte"), "{text}");
    }

    #[test]
    fn rome_time_follows_the_eu_switch() {
        let at = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        // 2026: summer time from Sunday 29 March, 01:00 UTC, to Sunday 25 October, 01:00 UTC.
        assert_eq!(format_rome_datetime(at(2026, 3, 29, 0, 59)), "29/03/2026 alle 01:59");
        assert_eq!(format_rome_datetime(at(2026, 3, 29, 1, 0)), "29/03/2026 alle 03:00");
        assert_eq!(format_rome_datetime(at(2026, 10, 25, 0, 59)), "25/10/2026 alle 02:59");
        assert_eq!(format_rome_datetime(at(2026, 10, 25, 1, 0)), "25/10/2026 alle 02:00");
        assert_eq!(format_rome_datetime(at(2026, 11, 26, 7, 15)), "26/11/2026 alle 08:15");
        assert_eq!(format_rome_datetime(at(2026, 7, 1, 22, 30)), "02/07/2026 alle 00:30");
        assert_eq!(format_rome_datetime(at(2026, 12, 31, 23, 0)), "01/01/2027 alle 00:00");
        // 2027's last Sundays: 28 March and 31 October (the last day itself).
        assert_eq!(rome_offset_hours(at(2027, 3, 28, 0, 59)), 1);
        assert_eq!(rome_offset_hours(at(2027, 3, 28, 1, 0)), 2);
        assert_eq!(rome_offset_hours(at(2027, 10, 31, 0, 59)), 2);
        assert_eq!(rome_offset_hours(at(2027, 10, 31, 1, 0)), 1);
    }

    #[test]
    fn sizes_in_decimal_units() {
        assert_eq!(format_size(0), "0 byte");
        assert_eq!(format_size(999), "999 byte");
        assert_eq!(format_size(1000), "1,0 kB");
        assert_eq!(format_size(48_213), "48,2 kB");
        assert_eq!(format_size(999_949), "999,9 kB");
        assert_eq!(format_size(999_950), "1,0 MB");
        assert_eq!(format_size(1_234_567), "1,2 MB");
    }

    #[test]
    fn wrap_cuts_only_words_that_cannot_fit() {
        let hash = encode_winansi(HASH);
        let lines = wrap(&hash, Font::Regular, SMALL, 100.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), hash);
        assert!(lines.iter().all(|l| text_width(l, Font::Regular, SMALL) <= 100.0));

        let lines = wrap(b"uno due tre quattro", Font::Regular, BODY, text_width(b"uno due tre", Font::Regular, BODY));
        assert_eq!(lines, vec![b"uno due tre".to_vec(), b"quattro".to_vec()]);
        assert_eq!(wrap(b"", Font::Regular, BODY, 100.0), vec![Vec::<u8>::new()]);
    }

    #[test]
    fn widths_match_the_afm() {
        // Spot checks against Helvetica.afm / Helvetica-Bold.afm.
        let w = |font: Font, c: char| font.widths()[usize::from(encode_winansi(&c.to_string())[0] - 32)];
        assert_eq!((w(Font::Regular, ' '), w(Font::Regular, 'a'), w(Font::Regular, 'W')), (278, 556, 944));
        assert_eq!((w(Font::Regular, '-'), w(Font::Bold, '-'), w(Font::Regular, '+')), (333, 333, 584));
        assert_eq!((w(Font::Regular, '@'), w(Font::Regular, '\''), w(Font::Regular, '€')), (1015, 191, 556));
        assert_eq!((w(Font::Regular, 'à'), w(Font::Regular, 'ì'), w(Font::Regular, '«')), (556, 278, 556));
        assert_eq!((w(Font::Bold, 'a'), w(Font::Bold, '\''), w(Font::Bold, '“')), (556, 238, 500));
        assert_eq!((w(Font::Bold, 'ò'), w(Font::Bold, 'È'), w(Font::Bold, '—')), (611, 667, 1000));
    }
}
