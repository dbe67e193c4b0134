//! The documents a case produces, as PDF: the receipt ("ricevuta di presentazione") of a
//! submitted application, and the acts the office issues. Only what they say and where:
//! pages, fonts and the file are `crate::pdf`'s.
//!
//! Both are stored in the case file and downloaded again later, so they are pure
//! functions of their input: the registration (or issue) time comes from the input.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::{
    i18n::{Catalogues, Text},
    pdf::{
        encode_winansi, leading, wrap, write_pdf, Font, Layout, Meta, Page, BODY, CONTENT_W, GRAY_TEXT, GUTTER, LABEL,
        MARGIN, SMALL,
    },
    time::{format_date, format_rome_datetime, format_size, rome_offset_hours},
};

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

/// The words of a document, in one language (the ente's: a legal document
/// is written in the ente's language, not the reader's).
#[derive(Clone, Copy)]
pub struct Words<'a> {
    pub catalogues: &'a Catalogues,
    pub lang: &'a str,
}

impl Words<'_> {
    fn say(&self, key: &'static str) -> String {
        self.catalogues.text(self.lang, &Text::new(key))
    }

    fn text(&self, text: Text) -> String {
        self.catalogues.text(self.lang, &text)
    }
}

/// The receipt as PDF bytes; the same input always gives the same bytes.
pub fn render(receipt: &Receipt, words: Words) -> Vec<u8> {
    let pages = layout(receipt, words);
    let meta = Meta {
        title: words.text(Text::new("receipt.meta_title").with("mark", receipt.registry_mark)),
        author: receipt.ente_name,
        subject: receipt.procedure_title,
        footer: words.text(Text::new("receipt.footer").with("mark", receipt.registry_mark)),
        created: in_rome(receipt.registered_at),
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

pub fn render_act(act: &Act, words: Words) -> Vec<u8> {
    let mut l = Layout::new(
        &words.text(
            Text::new("act.running_head")
                .with("ente", act.ente_name)
                .with("title", act.title)
                .with("reference", act.case_reference),
        ),
    );
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
        title: words.text(Text::new("act.meta_title").with("title", act.title).with("reference", act.case_reference)),
        author: act.ente_name,
        subject: act.title,
        footer: words.text(Text::new("act.footer").with("reference", act.case_reference)),
        created: in_rome(act.issued_at),
    };
    write_pdf(&meta, &l.into_pages())
}

/// `t` in Rome local time, with its offset: what readers show as "created".
fn in_rome(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = i32::try_from(rome_offset_hours(t)).expect("one or two hours");
    t.with_timezone(&FixedOffset::east_opt(offset * 3600).expect("a valid offset"))
}

/// The size column of the documents table (right-aligned at the right margin).
const SIZE_W: f32 = 70.0;

/// Lays the receipt out on pages (without footers, which need the page count).
fn layout(r: &Receipt, words: Words) -> Vec<Page> {
    let mut l = Layout::new(
        &words.text(Text::new("receipt.running_head").with("ente", r.ente_name).with("mark", r.registry_mark)),
    );

    // Header: who issues the receipt.
    l.paragraph(r.ente_name, Font::Bold, 16.0, 0.0);
    l.paragraph(r.office, Font::Regular, BODY, GRAY_TEXT);
    l.gap(4.0);
    l.rule(0.0);
    l.gap(12.0);
    l.paragraph(&words.say("receipt.title"), Font::Bold, 14.0, 0.0);
    l.paragraph(r.procedure_title, Font::Regular, 11.0, 0.0);
    l.gap(10.0);
    registry_box(&mut l, r, words);

    // Rows are kept with their heading for at least two lines' worth.
    let first_row = 2.0 * leading(BODY);
    l.heading(&words.say("receipt.details"), first_row);
    l.row(&words.say("receipt.procedure"), r.procedure_title);
    l.row(&words.say("receipt.office"), r.office);
    l.row(&words.say("receipt.reference"), r.case_reference);
    let applicant = match r.acting_for {
        Some(acting_for) => format!("{}\n{}", r.applicant, acting_for),
        None => r.applicant.to_string(),
    };
    l.row(&words.say("receipt.applicant"), &applicant);
    l.row(&words.say("receipt.submitted_on"), &format_rome_datetime(r.registered_at));
    if let Some(deadline) = r.legal_deadline {
        l.row(&words.say("receipt.deadline"), &format_date(deadline));
    }

    for section in r.sections {
        l.heading(&section.title, first_row);
        for (label, value) in &section.rows {
            l.row(label, value);
        }
    }

    documents_table(&mut l, r.documents, words);

    l.gap(14.0);
    if let Some(deadline) = r.legal_deadline {
        l.paragraph(
            &words.text(Text::new("receipt.deadline_sentence").with("day", format_date(deadline))),
            Font::Regular,
            BODY,
            0.0,
        );
        l.gap(4.0);
    }
    l.paragraph(&words.say("receipt.closing"), Font::Regular, BODY, 0.0);
    l.into_pages()
}

/// The registry mark, big, on a light band with the registration time.
fn registry_box(l: &mut Layout, r: &Receipt, words: Words) {
    const PAD: f32 = 8.0;
    const MARK: f32 = 20.0;
    let inner_w = CONTENT_W - 2.0 * PAD;
    let mark = wrap(&encode_winansi(r.registry_mark), Font::Bold, MARK, inner_w);
    let when = words.text(Text::new("receipt.registered_at").with("when", format_rome_datetime(r.registered_at)));
    let height = 2.0 * PAD + leading(LABEL) + mark.len() as f32 * leading(MARK) + leading(BODY);
    l.band(height, 0.93, |l| {
        l.gap(PAD);
        l.place_line(
            MARGIN + PAD,
            Font::Regular,
            LABEL,
            GRAY_TEXT,
            encode_winansi(&words.say("receipt.registry_number")),
        );
        for line in mark {
            l.place_line(MARGIN + PAD, Font::Bold, MARK, 0.0, line);
        }
        l.place_line(MARGIN + PAD, Font::Regular, BODY, 0.0, encode_winansi(&when));
    });
}

/// Name and size on one line (the name wraps), the full SHA-256 below in a smaller font.
fn documents_table(l: &mut Layout, documents: &[ReceiptDocument], words: Words) {
    let heading = words.say("receipt.documents");
    if documents.is_empty() {
        l.heading(&heading, leading(BODY));
        l.paragraph(&words.say("receipt.no_documents"), Font::Regular, BODY, 0.0);
        return;
    }
    let blocks: Vec<DocumentBlock> = documents.iter().map(|doc| DocumentBlock::new(doc, words)).collect();
    // The heading and the column titles stay with the first document.
    let header = leading(LABEL) + 3.0;
    l.heading(&heading, header + blocks[0].height());
    let top = l.y();
    l.place_line(MARGIN, Font::Bold, LABEL, 0.0, encode_winansi(&words.say("receipt.document")));
    l.right_aligned(top, Font::Bold, LABEL, 0.0, &words.say("receipt.size"));
    l.gap(3.0);
    for block in blocks {
        l.ensure(block.height());
        l.rule(0.85);
        l.gap(4.0);
        for (i, name) in block.name.into_iter().enumerate() {
            l.ensure(leading(BODY));
            let top = l.y();
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
    fn new(doc: &ReceiptDocument, words: Words) -> Self {
        DocumentBlock {
            name: wrap(&encode_winansi(&doc.name), Font::Regular, BODY, CONTENT_W - SIZE_W - GUTTER),
            size: format_size(doc.size, words.catalogues, words.lang),
            hash: wrap(&encode_winansi(&format!("SHA-256 {}", doc.sha256)), Font::Regular, SMALL, CONTENT_W),
        }
    }

    /// Rule and padding included.
    fn height(&self) -> f32 {
        4.0 + self.name.len() as f32 * leading(BODY) + self.hash.len() as f32 * leading(SMALL) + 4.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::{text_width, Op, BOTTOM, MARGIN, PAGE_W, TOP};
    use chrono::TimeZone;
    use std::process::Command;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// The closing sentence of every receipt (Italian).
    const CLOSING_LINE: &str =
        "Questa ricevuta attesta la presentazione dell'istanza e il numero di protocollo assegnato.";

    fn render(receipt: &Receipt) -> Vec<u8> {
        let catalogues = Catalogues::for_tests();
        super::render(receipt, Words { catalogues: &catalogues, lang: "it" })
    }

    fn layout(receipt: &Receipt) -> Vec<Page> {
        let catalogues = Catalogues::for_tests();
        super::layout(receipt, Words { catalogues: &catalogues, lang: "it" })
    }

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
    fn an_english_ente_gets_an_english_receipt() {
        let (s, d) = (sections(0), documents());
        let catalogues = Catalogues::for_tests();
        let pdf = super::render(&receipt(&s, &d), Words { catalogues: &catalogues, lang: "en" });
        let text = poppler("pdftotext", &["-enc", "UTF-8"], &pdf, "english");
        for expected in ["Submission receipt", "Application details", "Attached documents", "Registry number"] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
        assert!(!text.contains("Documenti allegati") && !text.contains(CLOSING_LINE), "{text}");
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
    fn sizes_in_decimal_units_as_each_language_writes_them() {
        let catalogues = Catalogues::for_tests();
        let it = |bytes| format_size(bytes, &catalogues, "it");
        assert_eq!(it(0), "0 byte");
        assert_eq!(it(999), "999 byte");
        assert_eq!(it(1000), "1,0 kB");
        assert_eq!(it(48_213), "48,2 kB");
        assert_eq!(it(999_949), "999,9 kB");
        assert_eq!(it(999_950), "1,0 MB");
        assert_eq!(it(1_234_567), "1,2 MB");
        let en = |bytes| format_size(bytes, &catalogues, "en");
        assert_eq!(en(999), "999 bytes");
        assert_eq!(en(48_213), "48.2 kB");
        assert_eq!(en(1_500_000), "1.5 MB");
    }
}
