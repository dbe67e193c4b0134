//! WCAG 2.1 contrast (success criterion 1.4.3): the relative luminance of an
//! sRGB colour and the ratio between two of them, from 1:1 to 21:1. The header
//! and the buttons put white text on the ente's primary colour, so that pair
//! must reach 4.5:1 (AA for normal text).

/// The least ratio AA asks of normal text.
pub const AA_NORMAL_TEXT: f64 = 4.5;

/// `#rrggbb` (either case) as its three channels.
pub fn parse_hex(colour: &str) -> Option<[u8; 3]> {
    let hex = colour.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// Relative luminance: 0 for black, 1 for white.
pub fn relative_luminance([r, g, b]: [u8; 3]) -> f64 {
    let linear = |channel: u8| {
        let c = f64::from(channel) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
}

/// The contrast ratio of two colours, whichever is lighter.
pub fn ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    let (lighter, darker) = if la >= lb { (la, lb) } else { (lb, la) };
    (lighter + 0.05) / (darker + 0.05)
}

pub const WHITE: [u8; 3] = [255, 255, 255];

/// A ratio as people read it, one decimal, cut rather than rounded: 4.46 must
/// not read "4.5" next to "at least 4.5".
pub fn shown(ratio: f64, decimal_separator: char) -> String {
    let tenths = (ratio * 10.0).floor() as i64;
    format!("{}{decimal_separator}{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_white(colour: &str) -> f64 {
        ratio(parse_hex(colour).unwrap(), WHITE)
    }

    #[test]
    fn known_pairs_have_their_published_ratios() {
        assert!((ratio(WHITE, [0, 0, 0]) - 21.0).abs() < 1e-9);
        assert!((ratio([0, 0, 0], WHITE) - 21.0).abs() < 1e-9, "the order does not matter");
        assert!((on_white("#0066cc") - 5.57).abs() < 0.01, "{}", on_white("#0066cc"));
        // Often quoted as "about 1.6"; the formula gives 1.51.
        assert!((on_white("#ffcc00") - 1.51).abs() < 0.01, "{}", on_white("#ffcc00"));
        assert!((on_white("#767676") - 4.54).abs() < 0.01, "the lightest grey that passes AA");
        assert!((ratio(WHITE, WHITE) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_aa_threshold_splits_known_colours() {
        assert!(on_white("#0066CC") >= AA_NORMAL_TEXT);
        assert!(on_white("#767676") >= AA_NORMAL_TEXT);
        assert!(on_white("#777777") < AA_NORMAL_TEXT);
        assert!(on_white("#ffcc00") < AA_NORMAL_TEXT);
    }

    #[test]
    fn only_six_hex_digits_after_a_hash_are_a_colour() {
        assert_eq!(parse_hex("#0066cc"), Some([0, 0x66, 0xcc]));
        assert_eq!(parse_hex("#FFcc00"), Some([0xff, 0xcc, 0]));
        for bad in ["0066cc", "#06c", "#0066cg", "#0066cc0", "", "#", "#ééé"] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_ratio_is_shown_cut_to_one_decimal() {
        assert_eq!(shown(4.46, ','), "4,4");
        assert_eq!(shown(5.57, '.'), "5.5");
        assert_eq!(shown(21.0, ','), "21,0");
        assert_eq!(shown(1.0, '.'), "1.0");
    }
}
