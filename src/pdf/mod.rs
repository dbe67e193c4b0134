//! A small PDF writer for the documents the platform generates: A4 pages of text in
//! the standard Helvetica fonts, laid out top-down with page breaks, a running head
//! on every page after the first and a "Pagina i di N" footer.
//!
//! Output is a pure function of the input: no clock, no random file ID, no hash-map
//! ordering (a generated document is stored, hashed and downloaded again later). The
//! creation date comes from the caller and the trailer /ID is a hash of the body.
//!
//! Rendering is two passes: a [`Layout`] places every line on pages as [`Op`]s,
//! breaking pages as it goes; only then is the page count known, so [`write_pdf`]
//! adds the footers. What the document says is the caller's: nothing here knows of
//! cases or receipts.

mod fonts;
mod layout;
mod writer;

pub use fonts::{encode_winansi, text_width, wrap, Font};
pub use layout::{leading, Layout, Op, Page};
pub use writer::{write_pdf, Meta};

// A4 pages, 2 cm margins, a footer band below BOTTOM.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
pub const MARGIN: f32 = 56.7;
pub const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
pub const TOP: f32 = PAGE_H - MARGIN;
/// Body text stays above this line; the footer sits below it.
pub const BOTTOM: f32 = 72.0;
const FOOTER_BASELINE: f32 = 40.0;
/// The label column of label/value rows, and the gap before the value column.
pub const LABEL_W: f32 = 150.0;
pub const GUTTER: f32 = 14.0;
pub const VALUE_X: f32 = MARGIN + LABEL_W + GUTTER;
pub const VALUE_W: f32 = CONTENT_W - LABEL_W - GUTTER;

// Text sizes (points) and grays (0 black, 1 white).
pub const BODY: f32 = 10.0;
pub const LABEL: f32 = 9.0;
pub const SMALL: f32 = 7.5;
pub const GRAY_TEXT: f32 = 0.35;
pub const GRAY_RULE: f32 = 0.6;
