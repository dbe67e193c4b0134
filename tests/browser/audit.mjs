// Opens pages in Debian's headless Chromium, each at 1280 and at 390 px wide (a
// desktop, a phone), and reports, as JSON on stdout, one entry per page and width:
//  - every Content-Security-Policy violation and script error the page causes;
//  - every axe-core WCAG 2.1 A/AA violation;
//  - every visible text on top of another (overlap.mjs), as the visitor sees the page.
// Exit code 1 when anything was found. Used by tests/api/accessibility.rs.
//
//   node tests/browser/audit.mjs [--screenshots DIR] [--cookie URL NAME=VALUE]... URL...
// --cookie signs the browser in (a session cookie for the site of URL).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { collectProblems } from './problems.mjs';
import { overlaps } from './overlap.mjs';

const WIDTHS = [1280, 390];

const args = process.argv.slice(2);
let screenshots = null;
if (args[0] === '--screenshots') {
  screenshots = args[1];
  args.splice(0, 2);
}
const cookies = [];
while (args[0] === '--cookie') {
  const [name, ...rest] = args[2].split('=');
  cookies.push({ url: args[1], name, value: rest.join('='), secure: true, httpOnly: true, sameSite: 'Lax' });
  args.splice(0, 3);
}
const axeSource = fs.readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const report = [];
try {
  // As a visitor sees it: the real CSP applies, so a blocked resource shows up here.
  const visitor = await browser.newContext();
  // For axe, which must be injected into the page.
  const auditor = await browser.newContext({ bypassCSP: true });
  if (cookies.length) {
    await visitor.addCookies(cookies);
    await auditor.addCookies(cookies);
  }
  for (const url of args) {
    for (const width of WIDTHS) {
      const viewport = { width, height: width > 800 ? 900 : 844 };
      const page = await visitor.newPage();
      await page.setViewportSize(viewport);
      const problems = collectProblems(page);
      const response = await page.goto(url, { waitUntil: 'load' });
      if (screenshots) {
        fs.mkdirSync(screenshots, { recursive: true });
        const name = `${url.replace(/^https?:\/\//, '').replace(/[^a-z0-9]+/gi, '_')}-${width}.png`;
        await page.screenshot({ path: path.join(screenshots, name), fullPage: true });
      }
      // Under the page's own CSP: what it refuses (an inline style) changes the layout.
      const layout = await overlaps(page);
      await page.close();

      const audited = await auditor.newPage();
      await audited.setViewportSize(viewport);
      await audited.goto(url, { waitUntil: 'load' });
      await audited.evaluate(axeSource);
      const result = await audited.evaluate(() =>
        window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
      await audited.close();
      report.push({
        url,
        width,
        status: response ? response.status() : null,
        console_errors: problems,
        violations: result.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
        })),
        texts: layout.texts,
        overlaps: layout.overlaps,
      });
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.some((r) => r.violations.length || r.console_errors.length || r.overlaps.length) ? 1 : 0);
