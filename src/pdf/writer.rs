//! The file itself: catalog, page tree, pages and their content streams, the fonts,
//! the info dictionary and a file ID derived from the content.

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

use super::{
    fonts::{encode_winansi, text_width, Font},
    layout::{Op, Page},
    CONTENT_W, FOOTER_BASELINE, GRAY_RULE, GRAY_TEXT, GUTTER, MARGIN, PAGE_H, PAGE_W, SMALL,
};

/// What the PDF's info dictionary and footer say.
pub struct Meta<'a> {
    pub title: String,
    pub author: &'a str,
    pub subject: &'a str,
    /// On the left of every page's footer (the page number is on the right).
    pub footer: String,
    /// The local time and its offset, as readers show "created".
    pub created: DateTime<FixedOffset>,
}

/// The PDF date of `t`, with its offset from UTC.
fn pdf_date(t: DateTime<FixedOffset>) -> Date {
    let offset = t.offset().local_minus_utc();
    Date::new(t.year().clamp(0, 9999) as u16)
        .month(t.month() as u8)
        .day(t.day() as u8)
        .hour(t.hour() as u8)
        .minute(t.minute() as u8)
        .second(t.second() as u8)
        .utc_offset_hour((offset / 3600) as i8)
        .utc_offset_minute((offset.abs() % 3600 / 60) as u8)
}

const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const FONTS: [(Font, Ref); 2] = [(Font::Regular, Ref::new(4)), (Font::Bold, Ref::new(5))];

/// Page `i` (from 0) and its content stream.
fn page_refs(i: usize) -> (Ref, Ref) {
    let n = 6 + 2 * i32::try_from(i).expect("page count fits i32");
    (Ref::new(n), Ref::new(n + 1))
}

/// The document: `pages` as a [`Layout`](super::Layout) placed them, each with its footer.
pub fn write_pdf(meta: &Meta, pages: &[Page]) -> Vec<u8> {
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
        let content = page_content(ops, &footer(meta, i + 1, count));
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
        .title(TextStr(&meta.title))
        .author(TextStr(meta.author))
        .subject(TextStr(meta.subject))
        .creator(TextStr("Sportello"))
        .creation_date(pdf_date(meta.created));

    // The file identifier is meant to be unique per document; deriving it from everything
    // written so far keeps it so while leaving the output a function of the input.
    let digest = Sha256::digest(pdf.as_bytes());
    let id = digest[..16].to_vec();
    pdf.set_file_id((id.clone(), id));
    pdf.finish()
}

/// "Pagina i di N" on the right, the document's footer text on the left, under a rule.
fn footer(meta: &Meta, page: usize, count: usize) -> Vec<Op> {
    let right = encode_winansi(&format!("Pagina {page} di {count}"));
    let right_x = PAGE_W - MARGIN - text_width(&right, Font::Regular, SMALL);
    let mut left = encode_winansi(&meta.footer);
    // Never let a freakishly long footer text run into the page number.
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
    use chrono::TimeZone;

    use super::*;
    use crate::pdf::{Layout, BODY};

    fn meta(footer: &str) -> Meta<'static> {
        Meta {
            title: "Documento di prova".into(),
            author: "Ente",
            subject: "Prova",
            footer: footer.into(),
            created: FixedOffset::east_opt(5 * 3600 + 1800).unwrap().with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    #[test]
    fn pages_are_numbered_and_the_date_keeps_its_offset() {
        let mut l = Layout::new("Testa");
        for i in 0..120 {
            l.paragraph(&format!("Riga {i}"), Font::Regular, BODY, 0.0);
        }
        let pages = l.into_pages();
        let pdf = write_pdf(&meta("Documento 1"), &pages);
        assert_eq!(pdf, write_pdf(&meta("Documento 1"), &pages), "the same input gives the same bytes");
        let has = |needle: &[u8]| pdf.windows(needle.len()).any(|w| w == needle);
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(has(format!("/Count {}", pages.len()).as_bytes()));
        for n in 1..=pages.len() {
            assert!(has(format!("(Pagina {n} di {})", pages.len()).as_bytes()), "footer of page {n}");
        }
        assert!(has(b"(D:20260102030405+05'30)"), "creation date with its offset");
        assert!(has(b"/BaseFont /Helvetica-Bold"));
    }

    #[test]
    fn a_long_footer_is_cut_before_the_page_number() {
        let ops = footer(&meta(&"Protocollo ".repeat(40)), 1, 1);
        let [Op::Rule { .. }, Op::Text { x, text, .. }, Op::Text { x: right_x, .. }] = &ops[..] else {
            panic!("a rule and two texts: {ops:?}")
        };
        assert!(text.len() < "Protocollo ".len() * 40);
        assert!(x + text_width(text, Font::Regular, SMALL) <= right_x - GUTTER);
    }
}
