//! Small XML helpers: escaping for the documents we emit, and safe parsing
//! (roxmltree, DTDs refused: no XXE, no entity expansion) of what we receive.

use roxmltree::{Document, Node, ParsingOptions};

/// Escapes text for element content and double-quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// Parses untrusted XML. Any `<!DOCTYPE` is rejected.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, String> {
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: 100_000 };
    Document::parse_with_options(text, opts).map_err(|e| e.to_string())
}

pub(crate) fn is(n: &Node, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
}

/// Element children with the given namespace and local name.
pub(crate) fn children<'a, 'i>(n: Node<'a, 'i>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| is(c, ns, name))
}

pub(crate) fn child<'a, 'i>(n: Node<'a, 'i>, ns: &'a str, name: &'a str) -> Option<Node<'a, 'i>> {
    children(n, ns, name).next()
}

/// Exactly-one child; `Err(count)` otherwise.
pub(crate) fn only_child<'a, 'i>(n: Node<'a, 'i>, ns: &'a str, name: &'a str) -> Result<Node<'a, 'i>, usize> {
    let v: Vec<_> = children(n, ns, name).collect();
    if v.len() == 1 {
        Ok(v[0])
    } else {
        Err(v.len())
    }
}

/// Concatenated text content, trimmed.
pub(crate) fn text(n: Node) -> String {
    let mut s = String::new();
    for d in n.descendants() {
        if d.is_text() {
            s.push_str(d.text().unwrap_or(""));
        }
    }
    s.trim().to_string()
}
