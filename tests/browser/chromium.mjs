// What the browser journeys share: Debian's headless Chromium launched as
// they need it (every *.localhost host on loopback), the two widths every page
// is checked at, and the check itself — axe-core WCAG 2.1 A/AA and visible text
// on top of other text (overlap.mjs) — run in the page under its own CSP.
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { overlaps } from './overlap.mjs';

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };
const axeSource = fs.readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.localhost 127.0.0.1'],
  });
}

/// The page as laid out now at `width` (scripts must be on: axe is one):
/// its axe violations, the texts that overlap, and how many texts were looked at.
export async function checkLayout(page, width) {
  // Let the page lay itself out again at the new width.
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  const violations = result.violations.map((v) => ({
    width, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
  const layout = await overlaps(page);
  return { violations, overlaps: layout.overlaps.map((o) => ({ width, ...o })), texts: layout.texts };
}
