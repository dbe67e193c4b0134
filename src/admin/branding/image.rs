//! The logo and the banner an admin uploads: at most 2 MiB, PNG, JPEG or SVG
//! as the content says (never the file name), and an SVG only when nothing in
//! it can run or fetch: the portal shows these images on every page, and an
//! SVG opened on its own is a document that could carry script or reach out.
//! An SVG is refused, never cleaned: what is published is what was sent.

use crate::i18n::Text;

pub const MAX_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Jpeg,
    Svg,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Svg => "image/svg+xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Svg => "svg",
        }
    }

    pub fn of_content_type(content_type: &str) -> Option<Self> {
        [Format::Png, Format::Jpeg, Format::Svg].into_iter().find(|f| f.content_type() == content_type)
    }
}

/// Why an image is refused; each reason is a sentence in the locales.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLarge,
    /// Neither PNG, JPEG nor an SVG document.
    NotAnImage,
    /// An element that runs or embeds a document (`script`, `foreignObject`).
    Element(String),
    /// An `on…` attribute: an event handler.
    EventAttribute(String),
    /// A reference to something outside the image (`href`, `url(…)`, `@import`,
    /// a stylesheet instruction).
    ExternalReference(String),
    /// `javascript:` anywhere.
    JavascriptUrl,
}

impl Refusal {
    pub fn text(&self) -> Text {
        let text = |key: &'static str| Text::new(key);
        match self {
            Refusal::Empty => text("admin.branding.image.empty"),
            Refusal::TooLarge => text("admin.branding.image.too_large").with("limit", "2 MiB"),
            Refusal::NotAnImage => text("admin.branding.image.not_an_image"),
            Refusal::Element(name) => text("admin.branding.image.svg_element").with("name", name),
            Refusal::EventAttribute(name) => text("admin.branding.image.svg_event").with("name", name),
            Refusal::ExternalReference(what) => {
                text("admin.branding.image.svg_external").with("what", what.chars().take(80).collect::<String>())
            }
            Refusal::JavascriptUrl => text("admin.branding.image.svg_javascript"),
        }
    }
}

/// The format of an acceptable image, or why it is refused.
pub fn check(body: &[u8]) -> Result<Format, Refusal> {
    if body.is_empty() {
        return Err(Refusal::Empty);
    }
    if body.len() > MAX_BYTES {
        return Err(Refusal::TooLarge);
    }
    if body.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if body.starts_with(&[0xff, 0xd8, 0xff]) {
        return Ok(Format::Jpeg);
    }
    let text = std::str::from_utf8(body).map_err(|_| Refusal::NotAnImage)?;
    check_svg(text.strip_prefix('\u{feff}').unwrap_or(text))?;
    Ok(Format::Svg)
}

const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

/// An XML document whose root is `svg`, with nothing that runs or fetches.
/// roxmltree refuses a DTD, so no entity can hide a name from this walk.
fn check_svg(text: &str) -> Result<(), Refusal> {
    let document = roxmltree::Document::parse(text).map_err(|_| Refusal::NotAnImage)?;
    let root = document.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace().is_some_and(|ns| ns != SVG_NAMESPACE) {
        return Err(Refusal::NotAnImage);
    }
    if has_javascript_url(text) {
        return Err(Refusal::JavascriptUrl);
    }
    for node in document.descendants() {
        if node.is_pi() {
            // `<?xml-stylesheet href="…"?>` loads a stylesheet from elsewhere.
            let pi = node.pi().map(|p| p.target).unwrap_or_default();
            return Err(Refusal::ExternalReference(format!("<?{pi}?>")));
        }
        if node.is_text() {
            // Decoded: `&#106;avascript:` reads as the scheme here.
            let text = node.text().unwrap_or_default();
            if has_javascript_url(text) {
                return Err(Refusal::JavascriptUrl);
            }
            if node.parent().is_some_and(|p| p.tag_name().name().eq_ignore_ascii_case("style")) {
                check_css(text)?;
            }
            continue;
        }
        if !node.is_element() {
            continue;
        }
        let name = node.tag_name().name();
        if ["script", "foreignobject", "iframe", "embed", "object"].contains(&name.to_ascii_lowercase().as_str()) {
            return Err(Refusal::Element(name.to_string()));
        }
        for attribute in node.attributes() {
            let (attribute_name, value) = (attribute.name(), attribute.value());
            let lower = attribute_name.to_ascii_lowercase();
            if lower.starts_with("on") {
                return Err(Refusal::EventAttribute(attribute_name.to_string()));
            }
            // `src` has no business in an SVG (an HTML element smuggled in
            // would have one); `xml:base` would move where `#…` points.
            let moves_references = lower == "base" && attribute.namespace().is_some();
            let outside = matches!(lower.as_str(), "href" | "src") && !value.trim_start().starts_with('#');
            if moves_references || outside {
                return Err(Refusal::ExternalReference(value.to_string()));
            }
            // `<set attributeName="href" to="…">` would write a reference (or a
            // handler) that the walk above never sees.
            if lower == "attributename" {
                let target = value.trim().to_ascii_lowercase();
                let target = target.rsplit(':').next().unwrap_or_default();
                if target == "href" || target.starts_with("on") {
                    return Err(Refusal::ExternalReference(value.to_string()));
                }
            }
            // Presentation attributes (`fill`, `filter`, `mask` …) take `url()` as `style` does.
            check_css(value)?;
        }
    }
    Ok(())
}

/// `javascript:` in any spelling a browser would still read as that scheme:
/// case folded, with the whitespace and control characters it skips removed.
/// Run on the raw document and on every decoded text and attribute value, so
/// a character reference (`&#106;avascript:`) does not hide it.
fn has_javascript_url(text: &str) -> bool {
    let folded: String = text.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    folded.to_ascii_lowercase().contains("javascript:")
}

/// CSS from a `style` attribute, a presentation attribute or a `<style>`
/// element: only references inside the image (`url(#id)`), no `@import`, and
/// no escapes, which could spell either of those in a way this check misses.
fn check_css(css: &str) -> Result<(), Refusal> {
    if has_javascript_url(css) {
        return Err(Refusal::JavascriptUrl);
    }
    let lower = css.to_ascii_lowercase();
    if lower.contains('\\') {
        return Err(Refusal::ExternalReference(css.to_string()));
    }
    if lower.contains("@import") {
        return Err(Refusal::ExternalReference("@import".into()));
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        let inside = rest[at + 4..].trim_start().trim_start_matches(['"', '\'']);
        if !inside.starts_with('#') {
            let end = inside.find(')').unwrap_or(inside.len());
            return Err(Refusal::ExternalReference(format!("url({})", &inside[..end])));
        }
        rest = &rest[at + 4..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(inner: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">{inner}</svg>"#
        )
    }

    fn refusal(inner: &str) -> Refusal {
        check(svg(inner).as_bytes()).expect_err(inner)
    }

    #[test]
    fn the_format_comes_from_the_content() {
        assert_eq!(check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(Format::Png));
        assert_eq!(check(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), Ok(Format::Jpeg));
        assert_eq!(check(svg(r##"<circle cx="5" cy="5" r="4" fill="#0066cc"/>"##).as_bytes()), Ok(Format::Svg));
        assert_eq!(check(format!("<?xml version=\"1.0\"?>\n{}", svg("")).as_bytes()), Ok(Format::Svg));
        assert_eq!(check(b"GIF89a\x01\0\x01\0"), Err(Refusal::NotAnImage));
        assert_eq!(check(b"<html><body>logo</body></html>"), Err(Refusal::NotAnImage), "XML, but not an SVG");
        assert_eq!(check(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"), Err(Refusal::NotAnImage), "not well formed");
        assert_eq!(check(b""), Err(Refusal::Empty));
        assert_eq!(check(&vec![0x89; MAX_BYTES + 1]), Err(Refusal::TooLarge));
    }

    #[test]
    fn a_safe_svg_with_internal_references_passes() {
        let inner = r##"<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient>
            <style>.a { fill: url(#g); }</style></defs>
            <use href="#c"/><use xlink:href="#c"/><rect class="a" style="fill: url( '#g' )" width="4" height="4"/>
            <circle id="c" r="1"/>"##;
        assert_eq!(check(svg(inner).as_bytes()), Ok(Format::Svg));
    }

    #[test]
    fn what_runs_is_refused() {
        assert_eq!(refusal("<script>alert(1)</script>"), Refusal::Element("script".into()));
        assert_eq!(
            refusal("<foreignObject><div xmlns=\"http://www.w3.org/1999/xhtml\"/></foreignObject>"),
            Refusal::Element("foreignObject".into())
        );
        assert_eq!(refusal(r#"<rect onload="alert(1)"/>"#), Refusal::EventAttribute("onload".into()));
        assert_eq!(refusal(r#"<rect ONCLICK="x()"/>"#), Refusal::EventAttribute("ONCLICK".into()));
        assert_eq!(refusal(r#"<a href="javascript:alert(1)"><rect/></a>"#), Refusal::JavascriptUrl);
        assert_eq!(
            refusal(r#"<a href="&#106;avascript:alert(1)"><rect/></a>"#),
            Refusal::ExternalReference("javascript:alert(1)".into())
        );
        assert_eq!(refusal("<desc>JavaScript :</desc>"), Refusal::JavascriptUrl, "anywhere, in any case");
        assert!(matches!(refusal(r#"<set attributeName="onmouseover" to="x()"/>"#), Refusal::ExternalReference(_)));
    }

    #[test]
    fn references_outside_the_image_are_refused() {
        for inner in [
            r#"<image href="https://tracker.example/p.png"/>"#,
            r#"<use xlink:href="other.svg#a"/>"#,
            r#"<image href="data:image/png;base64,AAAA"/>"#,
            r#"<rect style="fill: url(https://x.example/a.svg#g)"/>"#,
            r#"<rect fill="url('other.svg#g')"/>"#,
            "<style>@import 'https://x.example/a.css';</style>",
            "<style>rect { background: URL(https://x.example/a.png) }</style>",
            r#"<rect style="fill: u\72l(x.svg)"/>"#,
            r##"<use xml:base="https://x.example/" href="#a"/>"##,
            r#"<h:img xmlns:h="http://www.w3.org/1999/xhtml" src="https://x.example/a.png"/>"#,
        ] {
            assert!(matches!(refusal(inner), Refusal::ExternalReference(_)), "{inner}: {:?}", refusal(inner));
        }
        let stylesheet = format!("<?xml-stylesheet href=\"https://x.example/a.css\"?>{}", svg(""));
        assert!(matches!(check(stylesheet.as_bytes()), Err(Refusal::ExternalReference(_))));
        let doctype = format!("<!DOCTYPE svg [<!ENTITY x \"javascript:\">]>{}", svg(""));
        assert_eq!(check(doctype.as_bytes()), Err(Refusal::NotAnImage), "a DTD is not parsed at all");
    }

    #[test]
    fn every_refusal_has_a_sentence_in_every_locale() {
        let locales = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        for refusal in [
            Refusal::Empty,
            Refusal::TooLarge,
            Refusal::NotAnImage,
            Refusal::Element("script".into()),
            Refusal::EventAttribute("onload".into()),
            Refusal::ExternalReference("x".into()),
            Refusal::JavascriptUrl,
        ] {
            let key = refusal.text().key;
            for lang in ["it", "en"] {
                let file = std::fs::read_to_string(locales.join(format!("{lang}.toml"))).unwrap();
                let mut value: &toml::Value = &toml::from_str(&file).unwrap();
                for part in key.split('.') {
                    value = value.get(part).unwrap_or_else(|| panic!("{lang}.toml has no {key}"));
                }
                assert!(value.is_str(), "{lang}: {key}");
            }
        }
    }
}
