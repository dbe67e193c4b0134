//! A workflow drawn as SVG, on the server: statuses as boxes laid out in
//! columns by how many transitions they are from the initial status, the
//! transitions as arrows with their label, final statuses with a double
//! border. No client-side library; the page shows the same statuses and
//! transitions as tables beside it for screen readers (the picture is an
//! `img` with a title and a description).

use std::collections::{HashMap, VecDeque};
use std::fmt::Write;

use super::workflow::{Colour, Phase, Workflow};

const BOX_W: i32 = 190;
const BOX_H: i32 = 54;
const COL_GAP: i32 = 110;
const ROW_GAP: i32 = 46;
const MARGIN: i32 = 24;

/// Bootstrap Italia's contextual colours, for the stripe on top of each box.
fn stripe(colour: Colour) -> &'static str {
    match colour {
        Colour::Primary => "#0066cc",
        Colour::Secondary => "#5d7083",
        Colour::Success => "#008758",
        Colour::Warning => "#a66300",
        Colour::Danger => "#d9364f",
        Colour::Info => "#0073e6",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Cuts a label to what fits a box (the tables beside the picture have it whole).
fn fit(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(chars - 1).collect();
    format!("{cut}…")
}

/// The column of each status: its distance from the initial status (statuses
/// no transition reaches go in a last column).
fn columns(w: &Workflow) -> HashMap<&str, usize> {
    let mut column = HashMap::new();
    let mut queue = VecDeque::new();
    column.insert(w.initial.as_str(), 0);
    queue.push_back(w.initial.as_str());
    while let Some(status) = queue.pop_front() {
        let next = column[status] + 1;
        for t in w.from_status(status) {
            if !column.contains_key(t.to.as_str()) {
                column.insert(t.to.as_str(), next);
                queue.push_back(t.to.as_str());
            }
        }
    }
    let last = column.values().copied().max().unwrap_or(0) + 1;
    for s in &w.statuses {
        column.entry(s.key.as_str()).or_insert(last);
    }
    column
}

/// A transition's label (none for the second and later arrows of one transition).
fn label_at(svg: &mut String, label: &str, x: i32, y: i32) {
    if !label.is_empty() {
        let _ =
            write!(svg, r##"<text x="{x}" y="{y}" font-size="11" text-anchor="middle" fill="#1a1a1a">{label}</text>"##);
    }
}

/// The SVG of `w`; `title` and `description` name it for assistive technology.
pub fn draw(w: &Workflow, title: &str, description: &str, phase_name: &dyn Fn(Phase) -> String) -> String {
    let column = columns(w);
    let mut rows: HashMap<usize, i32> = HashMap::new();
    let mut at: HashMap<&str, (i32, i32)> = HashMap::new();
    for s in &w.statuses {
        let c = column[s.key.as_str()];
        let row = rows.entry(c).or_insert(0);
        at.insert(s.key.as_str(), (MARGIN + c as i32 * (BOX_W + COL_GAP), MARGIN + *row * (BOX_H + ROW_GAP)));
        *row += 1;
    }
    let width = at.values().map(|(x, _)| x + BOX_W + MARGIN).max().unwrap_or(2 * MARGIN);
    let height = at.values().map(|(_, y)| y + BOX_H + MARGIN).max().unwrap_or(2 * MARGIN);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-labelledby="workflow-title workflow-desc" class="sp-workflow" data-element="workflow-picture"><title id="workflow-title">{}</title><desc id="workflow-desc">{}</desc><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#33485c"/></marker></defs>"##,
        escape(title),
        escape(description)
    );
    // Arrows first, under the boxes: from the right edge of one box to the left
    // edge of the other, or curved below when both sit in the same column or go back.
    for (i, t) in w.transitions.iter().enumerate() {
        let Some(&(tx, ty)) = at.get(t.to.as_str()) else { continue };
        for (j, from) in t.from.iter().enumerate() {
            let Some(&(fx, fy)) = at.get(from.as_str()) else { continue };
            let (x1, y1) = (fx + BOX_W, fy + BOX_H / 2);
            let (x2, y2) = (tx, ty + BOX_H / 2);
            // One label per transition, on its first arrow: arrows of one
            // transition from several statuses meet, and so would their labels.
            let label = if j == 0 { escape(&fit(&t.label, 26)) } else { String::new() };
            if x2 > x1 {
                let _ = write!(
                    svg,
                    r##"<path d="M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}" fill="none" stroke="#33485c" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
                    x1 + COL_GAP / 2,
                    x2 - COL_GAP / 2,
                );
                label_at(&mut svg, &label, (x1 + x2) / 2, (y1 + y2) / 2 - 6 - (i as i32 % 2) * 12);
            } else {
                // Back or sideways: a loop under the boxes.
                let (bx1, bx2) = (fx + BOX_W / 2, tx + BOX_W / 2);
                let (by1, by2) = (fy + BOX_H, ty + BOX_H);
                let low = by1.max(by2) + ROW_GAP / 2 + (i as i32 % 3) * 6 + j as i32 * 10;
                let _ = write!(
                    svg,
                    r##"<path d="M{bx1},{by1} C{bx1},{low} {bx2},{low} {bx2},{by2}" fill="none" stroke="#5d7083" stroke-width="1.2" stroke-dasharray="4 3" marker-end="url(#arrow)"/>"##
                );
                label_at(&mut svg, &label, (bx1 + bx2) / 2, low + 2);
            }
        }
    }
    for s in &w.statuses {
        let (x, y) = at[s.key.as_str()];
        let initial = s.key == w.initial;
        let _ = write!(
            svg,
            r##"<g data-status="{}"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#ffffff" stroke="#33485c" stroke-width="{}"/><rect x="{x}" y="{y}" width="{BOX_W}" height="6" rx="3" fill="{}"/>"##,
            escape(&s.key),
            if initial { 3 } else { 1 },
            stripe(s.colour),
        );
        if s.is_final {
            let _ = write!(
                svg,
                r##"<rect x="{}" y="{}" width="{}" height="{}" rx="4" fill="none" stroke="#33485c" stroke-width="1" data-final="true"/>"##,
                x + 4,
                y + 9,
                BOX_W - 8,
                BOX_H - 13
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" font-size="13" font-weight="600" text-anchor="middle" fill="#1a1a1a">{}</text><text x="{}" y="{}" font-size="10" text-anchor="middle" fill="#33485c">{}</text></g>"##,
            x + BOX_W / 2,
            y + 29,
            escape(&fit(&s.label, 24)),
            x + BOX_W / 2,
            y + 44,
            escape(&phase_name(s.phase)),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_a_box_every_transition_an_arrow_and_finals_are_marked() {
        let w = Workflow::standard();
        let svg = draw(&w, "Flusso <standard>", "Stati e azioni", &|p| p.as_str().to_string());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("Flusso &lt;standard&gt;"), "labels are escaped");
        assert_eq!(svg.matches("<g data-status=").count(), w.statuses.len());
        let arrows: usize = w.transitions.iter().map(|t| t.from.len()).sum();
        assert_eq!(svg.matches("marker-end=").count(), arrows);
        assert_eq!(svg.matches("data-final=\"true\"").count(), w.statuses.iter().filter(|s| s.is_final).count());
        assert!(roxmltree::Document::parse(&svg).is_ok(), "well-formed XML");
    }

    #[test]
    fn statuses_are_laid_out_by_distance_from_the_initial_one() {
        let w = Workflow::standard();
        let column = columns(&w);
        assert_eq!(column[w.initial.as_str()], 0);
        for t in w.from_status(&w.initial) {
            assert!(column[t.to.as_str()] <= 1, "{}", t.to);
        }
    }
}
