// Proves overlap.mjs can fail: small pages in Chromium with Bootstrap Italia's CSS and
// fonts (and, where said, ours), served as the portal serves them, each with the
// overlaps it must find. Prints a JSON report; exit code 1 when a case finds more or
// less than it should, or other text than it should.
// Used by tests/api/accessibility.rs.
//
//   node tests/browser/overlap_selftest.mjs
import fs from 'node:fs';
import { chromium } from 'playwright-core';
import { overlaps } from './overlap.mjs';

const ORIGIN = 'http://selftest.localhost';
// What the portal serves under /static (src/startup.rs), from the working tree.
const STATIC = [
  ['/static/vendor/bootstrap-italia/', new URL('../../node_modules/bootstrap-italia/dist/', import.meta.url)],
  ['/static/themes/base/', new URL('../../themes/base/static/', import.meta.url)],
];
const TYPES = { css: 'text/css', woff2: 'font/woff2', html: 'text/html' };
const bootstrapItalia = '/static/vendor/bootstrap-italia/css/bootstrap-italia.min.css';
const fonts = '/static/themes/base/fonts.css';
const ours = '/static/themes/base/sportello.css';

// The password card of /accesso: a heading, then a field whose label floats up.
const signInCard = `
  <div class="container"><div class="card"><div class="card-body">
    <h2 class="h4">Con le credenziali del portale</h2>
    <form>
      <div class="form-group"><label for="email" class="active">Indirizzo e-mail</label><input type="email" class="form-control" id="email"></div>
      <div class="form-group"><label for="password" class="active">Password</label><input type="password" class="form-control" id="password"></div>
    </form>
  </div></div></div>`;

// A form as it should be, with everything the check must leave alone.
const normalForm = `
  <main class="container">
    <h1>Richiesta</h1>
    <p class="lead">Compila i campi: <a href="#x">le istruzioni</a> ti aiutano.</p>
    <fieldset>
      <legend class="h4">I tuoi dati</legend>
      <div class="form-group"><label for="n" class="active">Nome <span class="visually-hidden">obbligatorio</span></label><input class="form-control" id="n"><small class="form-text">Come sul documento</small></div>
      <div class="select-wrapper"><label for="s">Ufficio</label><select id="s"><option>Anagrafe</option><option>Tributi</option></select></div>
    </fieldset>
    <div class="form-check"><input class="form-check-input" type="checkbox" id="c"><label class="form-check-label" for="c">Accetto</label></div>
    <p id="over">Testo coperto da elementi nascosti</p>
    <span class="sp-ghost visually-hidden">solo per chi legge lo schermo</span>
    <span class="sp-ghost sr-only">anche questo</span>
    <span class="sp-ghost" style="visibility: hidden">invisibile</span>
    <span class="sp-ghost" style="opacity: 0">trasparente</span>
    <span class="sp-ghost" style="display: none">assente</span>
    <details><summary>Altro</summary><p class="sp-ghost">chiuso</p></details>
    <div style="height: 0; overflow: hidden"><span class="sp-ghost">tagliato</span></div>
    <span style="position: absolute; left: -9999px">fuori pagina</span>
    <textarea>testo di un campo</textarea>
    <button class="btn btn-primary" type="submit">Invia</button>
  </main>
  <style>.sp-ghost { position: absolute; top: 0; left: 0; }</style>`;

const cases = [
  { name: 'a floating label on the heading above it (Bootstrap Italia alone)', html: signInCard, css: [bootstrapItalia, fonts], expect: 1,
    texts: ['Con le credenziali del portale', 'Indirizzo e-mail'] },
  { name: 'the same card with sportello.css: the label keeps its room', html: signInCard, css: [bootstrapItalia, fonts, ours], expect: 0 },
  { name: 'a normal form, with hidden, clipped and off-page text on top of it', html: normalForm, css: [bootstrapItalia, fonts, ours], expect: 0 },
  { name: 'a positioned badge on a paragraph', css: [bootstrapItalia, fonts],
    html: '<p class="m-5">Una riga di testo qualunque</p><span class="badge bg-danger" style="position: absolute; top: 3rem; left: 3.5rem">Nuovo</span>',
    expect: 1, texts: ['Una riga di testo qualunque', 'Nuovo'] },
  { name: 'a button over a heading at phone width', width: 390, css: [bootstrapItalia, fonts],
    html: '<h1 class="m-3">Benvenuti nel portale</h1><a class="btn btn-primary" style="position: absolute; top: 1rem; right: 1rem" href="#">Accedi</a>',
    expect: 1, texts: ['Benvenuti nel portale', 'Accedi'] },
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const report = [];
try {
  const context = await browser.newContext();
  let html = '';
  await context.route(`${ORIGIN}/**`, (route) => {
    const { pathname } = new URL(route.request().url());
    if (pathname === '/') return route.fulfill({ contentType: TYPES.html, body: html });
    for (const [prefix, dir] of STATIC) {
      if (pathname.startsWith(prefix)) {
        const file = new URL(pathname.slice(prefix.length), dir);
        if (fs.existsSync(file)) {
          return route.fulfill({ contentType: TYPES[pathname.split('.').pop()], body: fs.readFileSync(file) });
        }
      }
    }
    return route.fulfill({ status: 404, body: '' });
  });
  for (const c of cases) {
    const page = await context.newPage();
    await page.setViewportSize({ width: c.width || 1280, height: 800 });
    const links = c.css.map((href) => `<link rel="stylesheet" href="${href}">`).join('');
    html = `<!doctype html><html lang="it"><head><meta charset="utf-8">${links}</head><body>${c.html}</body></html>`;
    await page.goto(`${ORIGIN}/`, { waitUntil: 'load' });
    await page.evaluate(() => document.fonts.ready);
    const found = await overlaps(page);
    const textsMatch = !c.texts || found.overlaps.some((o) => c.texts.every((t) => o.texts.includes(t)));
    report.push({ case: c.name, ok: found.overlaps.length === c.expect && textsMatch, expected: c.expect, texts: found.texts, overlaps: found.overlaps });
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report, null, 2));
process.exit(report.every((r) => r.ok) ? 0 : 1);
