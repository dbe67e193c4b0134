//! Text in the standard Type1 fonts Helvetica and Helvetica-Bold: WinAnsi encoding,
//! their advance widths, and line breaking by measured width.
//!
//! The fonts are never embedded (every reader has them). WinAnsiEncoding covers
//! Italian (à è é ì ò ù, €, « »); anything outside it prints as '?'. The widths are
//! Adobe's AFM metrics, also written into the font dictionaries so that readers lay
//! the glyphs out the way we measured.

use pdf_writer::Name;

/// `text` in WinAnsiEncoding (Windows-1252). Newlines are kept for the wrapper, tabs become
/// spaces, and anything WinAnsi lacks (or a control character) becomes '?'.
pub fn encode_winansi(text: &str) -> Vec<u8> {
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

/// The two faces a document uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    /// The name in each page's resource dictionary.
    pub(super) fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    pub(super) fn base_font(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"Helvetica"),
            Font::Bold => Name(b"Helvetica-Bold"),
        }
    }

    /// Advance widths (1/1000 em) of codes 32..=255.
    pub(super) fn widths(self) -> &'static [u16; 224] {
        match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        }
    }
}

/// Width in points of WinAnsi `text` set in `font` at `size`.
pub fn text_width(text: &[u8], font: Font, size: f32) -> f32 {
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
pub fn wrap(text: &[u8], font: Font, size: f32, width: f32) -> Vec<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::{BODY, SMALL};

    /// Has no space: wrapping can only cut it.
    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn italian_is_kept_and_characters_outside_winansi_become_question_marks() {
        assert_eq!(encode_winansi("àèéìòù €«»"), b"\xe0\xe8\xe9\xec\xf2\xf9 \x80\xab\xbb");
        assert_eq!(encode_winansi("Łódź 東京 😀\u{301}\u{7}"), b"?\xf3d? ?? ???");
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
