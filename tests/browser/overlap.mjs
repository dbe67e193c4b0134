// Text that sits on other text: a floating form label on the heading above it, a
// header button over the logo at phone width. Evaluated in the page by the browser
// tests (audit.mjs, journey.mjs; proved by overlap_selftest.mjs).
//
// Every element that directly holds non-whitespace text is one item; its boxes are
// the line boxes of those text nodes (Range.getClientRects), in page coordinates, no
// taller than the element's line-height, cut by every ancestor that clips (overflow,
// clip, clip-path). Left out: what is not
// rendered or not seen (display:none, visibility:hidden, opacity 0, closed <details>,
// .visually-hidden / .sr-only, boxes clipped to almost nothing, off the page), the
// text inside form controls (<option>, <textarea>) and pairs where one element
// contains the other (a link in its paragraph). Two items overlap when a box of one
// and a box of the other intersect by more than `tolerance` px in both directions.

/// Runs in the page: the overlapping pairs, the worst first.
export function findOverlaps({ tolerance = 2, limit = 20 } = {}) {
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'OPTGROUP', 'SELECT', 'TEXTAREA', 'TITLE', 'HEAD']);
  const HIDDEN = '.visually-hidden, .sr-only, .visually-hidden-focusable:not(:focus):not(:focus-within)';
  const sx = window.scrollX;
  const sy = window.scrollY;
  const pageWidth = Math.max(document.documentElement.scrollWidth, document.documentElement.clientWidth);
  const pageHeight = Math.max(document.documentElement.scrollHeight, document.documentElement.clientHeight);

  const visible = new Map();
  function seen(el) {
    if (visible.has(el)) return visible.get(el);
    let ok = true;
    if (el.closest(HIDDEN)) ok = false;
    else if (el.checkVisibility) ok = el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    else {
      const s = getComputedStyle(el);
      ok = s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) !== 0;
    }
    visible.set(el, ok);
    return ok;
  }

  // The page rectangle an element's clipping ancestors leave visible (null: no clip).
  const clips = new Map();
  function clipOf(el) {
    if (!el || el === document.documentElement) return null;
    if (clips.has(el)) return clips.get(el);
    let clip = clipOf(el.parentElement);
    const s = getComputedStyle(el);
    const clipsX = s.overflowX !== 'visible' || s.clip !== 'auto' || s.clipPath !== 'none';
    const clipsY = s.overflowY !== 'visible' || s.clip !== 'auto' || s.clipPath !== 'none';
    if (el !== document.body && (clipsX || clipsY)) {
      const r = el.getBoundingClientRect();
      const own = {
        left: clipsX ? r.left + sx : -Infinity, right: clipsX ? r.right + sx : Infinity,
        top: clipsY ? r.top + sy : -Infinity, bottom: clipsY ? r.bottom + sy : Infinity,
      };
      clip = clip ? intersect(clip, own) : own;
    }
    clips.set(el, clip);
    return clip;
  }
  function intersect(a, b) {
    return {
      left: Math.max(a.left, b.left), right: Math.min(a.right, b.right),
      top: Math.max(a.top, b.top), bottom: Math.min(a.bottom, b.bottom),
    };
  }

  function cssPath(el) {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && e !== document.body && parts.length < 6; e = e.parentElement) {
      if (e.id) {
        parts.unshift(`#${CSS.escape(e.id)}`);
        break;
      }
      let part = e.localName;
      const classes = [...e.classList].slice(0, 2);
      if (classes.length) part += classes.map((c) => `.${CSS.escape(c)}`).join('');
      const parent = e.parentElement;
      if (parent) {
        const same = [...parent.children].filter((c) => c.localName === e.localName);
        if (same.length > 1) part += `:nth-of-type(${same.indexOf(e) + 1})`;
      }
      parts.unshift(part);
    }
    return parts.join(' > ');
  }

  // element → its text boxes and text
  const items = new Map();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!/\S/.test(node.data)) continue;
    const el = node.parentElement;
    if (!el || el.closest('option, optgroup, select, textarea, script, style, noscript, template') || SKIP.has(el.tagName)) continue;
    if (!seen(el)) continue;
    range.selectNodeContents(node);
    const clip = clipOf(el);
    const style = getComputedStyle(el);
    const lineHeight = style.lineHeight === 'normal' ? 1.2 * parseFloat(style.fontSize) : parseFloat(style.lineHeight);
    for (const r of range.getClientRects()) {
      let box = { left: r.left + sx, right: r.right + sx, top: r.top + sy, bottom: r.bottom + sy };
      // A font's content area can be taller than the line it sits on (tight headings):
      // the text claims its line, no more.
      const extra = box.bottom - box.top - lineHeight;
      if (extra > 0) {
        box.top += extra / 2;
        box.bottom -= extra / 2;
      }
      if (clip) box = intersect(box, clip);
      if (box.right - box.left <= tolerance || box.bottom - box.top <= tolerance) continue;
      if (box.right <= 0 || box.bottom <= 0 || box.left >= pageWidth || box.top >= pageHeight) continue;
      let item = items.get(el);
      if (!item) {
        item = { el, boxes: [], text: '' };
        items.set(el, item);
      }
      item.boxes.push(box);
    }
    const item = items.get(el);
    if (item && item.text.length < 80) item.text = `${item.text} ${node.data}`.replace(/\s+/g, ' ').trim().slice(0, 80);
  }

  const list = [...items.values()];
  const found = [];
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i];
      const b = list[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      let worst = null;
      for (const p of a.boxes) {
        for (const q of b.boxes) {
          const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
          const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
          if (w > tolerance && h > tolerance && (!worst || w * h > worst.w * worst.h)) {
            worst = { w, h, x: Math.max(p.left, q.left), y: Math.max(p.top, q.top) };
          }
        }
      }
      if (worst) {
        found.push({
          texts: [a.text, b.text],
          targets: [cssPath(a.el), cssPath(b.el)],
          box: { x: Math.round(worst.x), y: Math.round(worst.y), width: Math.round(worst.w), height: Math.round(worst.h) },
          area: worst.w * worst.h,
        });
      }
    }
  }
  found.sort((p, q) => q.area - p.area);
  return { texts: list.length, overlaps: found.slice(0, limit).map(({ area, ...rest }) => rest), total: found.length };
}

/// The overlapping text on `page` (a Playwright page), evaluated in it.
export async function overlaps(page, options = {}) {
  return page.evaluate(findOverlaps, options);
}
