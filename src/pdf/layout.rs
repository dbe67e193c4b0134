//! Placing content on pages, top-down.

use super::{
    fonts::{encode_winansi, text_width, wrap, Font},
    BODY, BOTTOM, CONTENT_W, GRAY_RULE, GRAY_TEXT, LABEL, LABEL_W, MARGIN, PAGE_W, TOP, VALUE_W, VALUE_X,
};

/// Distance from one baseline to the next.
pub fn leading(size: f32) -> f32 {
    size * 1.3
}

/// One drawing operation, in PDF points from the bottom-left corner.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// WinAnsi text with its baseline starting at (x, y).
    Text { x: f32, y: f32, font: Font, size: f32, gray: f32, text: Vec<u8> },
    /// A horizontal rule.
    Rule { x: f32, y: f32, w: f32, gray: f32 },
    /// A filled rectangle, drawn under the text placed after it.
    Fill { x: f32, y: f32, w: f32, h: f32, gray: f32 },
}

/// The drawing operations of one page, footer aside.
pub type Page = Vec<Op>;

/// Places content top-down on pages; `y` is the top of the next line.
pub struct Layout {
    pages: Vec<Page>,
    y: f32,
    /// Repeated at the top of every page after the first, so a loose page still says what it is.
    running_head: Vec<u8>,
    /// Where the body starts on the current page: a break here would loop forever.
    page_top: f32,
}

impl Layout {
    /// `running_head`: repeated at the top of every page after the first.
    pub fn new(running_head: &str) -> Self {
        Layout { pages: vec![Vec::new()], y: TOP, running_head: encode_winansi(running_head), page_top: TOP }
    }

    /// The top of the next line, in points from the bottom of the page.
    pub fn y(&self) -> f32 {
        self.y
    }

    /// The pages laid out so far, for [`write_pdf`](super::write_pdf).
    pub fn into_pages(self) -> Vec<Page> {
        self.pages
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
    pub fn ensure(&mut self, height: f32) {
        let height = height.min(self.page_top - BOTTOM);
        if self.y - height < BOTTOM && self.y < self.page_top {
            self.new_page();
        }
    }

    /// Moves down `height` points.
    pub fn gap(&mut self, height: f32) {
        self.y -= height;
    }

    /// Places one line at the current position without checking for room.
    pub fn place_line(&mut self, x: f32, font: Font, size: f32, gray: f32, text: Vec<u8>) {
        // The baseline sits one em-ish below the line top, leaving room for accented capitals.
        let baseline = self.y - size;
        self.push(Op::Text { x, y: baseline, font, size, gray, text });
        self.y -= leading(size);
    }

    /// A wrapped paragraph across the full content width, breaking pages between lines.
    pub fn paragraph(&mut self, text: &str, font: Font, size: f32, gray: f32) {
        for line in wrap(&encode_winansi(text), font, size, CONTENT_W) {
            self.ensure(leading(size));
            self.place_line(MARGIN, font, size, gray, line);
        }
    }

    /// A rule across the content width at the current position.
    pub fn rule(&mut self, gray: f32) {
        let y = self.y;
        self.push(Op::Rule { x: MARGIN, y, w: CONTENT_W, gray });
    }

    /// A section title with a rule under it, kept on the same page as the first `keep_with`
    /// points of what follows, so that a title never ends a page alone.
    pub fn heading(&mut self, title: &str, keep_with: f32) {
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
    pub fn row(&mut self, label: &str, value: &str) {
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

    /// A band `height` points tall, filled with `gray` and kept on one page, with
    /// `content` placed over it from its top; the next line starts below the band
    /// whatever the content took.
    pub fn band(&mut self, height: f32, gray: f32, content: impl FnOnce(&mut Layout)) {
        self.ensure(height);
        let top = self.y;
        self.push(Op::Fill { x: MARGIN, y: top - height, w: CONTENT_W, h: height, gray });
        content(self);
        self.y = top - height;
    }

    /// Right-aligned text on the line whose top is `top`.
    pub fn right_aligned(&mut self, top: f32, font: Font, size: f32, gray: f32, text: &str) {
        let text = encode_winansi(text);
        let x = PAGE_W - MARGIN - text_width(&text, font, size);
        self.push(Op::Text { x, y: top - size, font, size, gray, text });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(pages: &[Page], prefix: &[u8]) -> Vec<Vec<u8>> {
        pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Text { text, .. } if text.starts_with(prefix) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn content_breaks_pages_under_a_running_head_and_stays_in_the_body() {
        let mut l = Layout::new("Documento di prova");
        for i in 0..120 {
            l.paragraph(&format!("Riga {i}"), Font::Regular, BODY, 0.0);
        }
        let pages = l.into_pages();
        assert!(pages.len() >= 2, "120 lines do not fit one page");
        for (n, page) in pages.iter().enumerate() {
            for op in page {
                if let Op::Text { x, y, font, size, text, .. } = op {
                    let right = x + text_width(text, *font, *size);
                    assert!(*x >= MARGIN && right <= PAGE_W - MARGIN, "outside the margins: {op:?}");
                    assert!(*y >= BOTTOM - size && *y <= TOP, "outside the body: {op:?}");
                }
            }
            let opens_with_head = matches!(&page[0], Op::Text { text, .. } if text == b"Documento di prova");
            assert_eq!(opens_with_head, n > 0, "page {}", n + 1);
        }
        let placed = lines(&pages, b"Riga ");
        let expected: Vec<Vec<u8>> = (0..120).map(|i| format!("Riga {i}").into_bytes()).collect();
        assert_eq!(placed, expected, "every line once, in order");
    }

    #[test]
    fn a_band_that_does_not_fit_moves_whole_to_the_next_page() {
        let mut l = Layout::new("Testa");
        while l.y() - leading(BODY) >= BOTTOM + 20.0 {
            l.paragraph("riempitivo", Font::Regular, BODY, 0.0);
        }
        l.band(60.0, 0.9, |l| l.paragraph("Nella fascia", Font::Bold, BODY, 0.0));
        let after = l.y();
        let pages = l.into_pages();
        assert_eq!(pages.len(), 2);
        let fill = pages[1].iter().find_map(|op| match op {
            Op::Fill { y, h, .. } => Some((*y, *h)),
            _ => None,
        });
        let (bottom, height) = fill.expect("the band is on the second page");
        assert_eq!(height, 60.0);
        assert_eq!(after, bottom, "what follows starts below the band");
        assert_eq!(lines(&pages[1..], b"Nella fascia").len(), 1);
    }

    #[test]
    fn a_row_pairs_a_wrapped_label_with_its_value() {
        let mut l = Layout::new("Testa");
        l.row(&"etichetta ".repeat(30), "");
        let pages = l.into_pages();
        let values: Vec<_> = pages[0]
            .iter()
            .filter_map(|op| match op {
                Op::Text { x, text, .. } if *x == VALUE_X => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(values, [encode_winansi("—")], "an empty value shows a dash");
        assert!(lines(&pages, b"etichetta").len() > 1, "the label wraps in its column");
    }
}
