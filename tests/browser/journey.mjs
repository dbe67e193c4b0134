// A citizen and an operator in Debian's headless Chromium, as people click:
// the citizen signs in through the development identity provider, starts and
// submits a case; an operator signs in at the staff sign-in, finds it in the
// inbox, takes it in charge and asks for an integration; the citizen answers.
// On every page met, at 1280 px and again at 390 px wide (the viewport resized): axe-core
// WCAG 2.1 A/AA, visible text on top of other text (overlap.mjs), and every CSP
// violation or script error (axe runs in the page itself, under the page's own CSP).
// Used by tests/api/demo.rs; prints a JSON report, exit code 1 when anything
// was found or a step could not be done.
//
//   node tests/browser/journey.mjs BASE_URL ATTACHMENT_PDF [SCREENSHOT_DIR]
import fs from 'node:fs';
import path from 'node:path';
import { collectProblems } from './problems.mjs';
import { DESKTOP, PHONE, checkLayout, launch } from './chromium.mjs';

const [base, attachment, screenshots] = process.argv.slice(2);
const CITIZEN = 'RSSMRA80A01H501U'; // Mario Rossi, a demo citizen
const OPERATOR = 'BNCGLI82D45A794M'; // Giulia Bianchi, Valmora's technical office
const PROCEDURE = 'certificato-destinazione-urbanistica';

const browser = await launch();
const pages = [];
const steps = [];
let failure = null;

/// A person with their own browser profile; every page they land on is audited.
async function person(name) {
  const context = await browser.newContext({ locale: 'it-IT', viewport: DESKTOP });
  const page = await context.newPage();
  const problems = collectProblems(page);
  return { name, page, problems };
}

/// Audits the page `who` is on, at the desktop width and then at the phone width.
async function audit(who, label) {
  const { page } = who;
  await page.waitForLoadState('load');
  const url = page.url();
  const title = await page.title();
  const violations = [];
  const found = [];
  let texts = 0;
  for (const viewport of [DESKTOP, PHONE]) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    if (screenshots) {
      fs.mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: path.join(screenshots, `${pages.length + 1}-${label}-${viewport.width}.png`), fullPage: true });
    }
    const checked = await checkLayout(page, viewport.width);
    violations.push(...checked.violations);
    texts += checked.texts;
    found.push(...checked.overlaps);
  }
  await page.setViewportSize(DESKTOP);
  pages.push({ who: who.name, label, url, title, problems: who.problems.splice(0), violations, texts, overlaps: found });
}

/// Clicks what `selector` finds and waits for the page it leads to.
async function follow(who, selector, label) {
  await Promise.all([who.page.waitForNavigation({ waitUntil: 'load' }), who.page.click(selector)]);
  await audit(who, label);
}

async function step(name, body) {
  if (failure) return;
  try {
    await body();
    steps.push(name);
  } catch (e) {
    failure = `${name}: ${e.message.split('\n')[0]}`;
  }
}

/// Through the development IdP as `fiscalCode` at level 2, from a page whose
/// `button` starts the SPID sign-in.
async function signInWithDevIdp(who, button, fiscalCode, landing) {
  await follow(who, `[data-element="${button}"]`, 'spid-chooser');
  // The SP's request form posts itself to the development IdP.
  await follow(who, '[data-element="dev-idp"]', 'dev-idp');
  await who.page.check('input[name=level][value="2"]');
  // The IdP's signed response posts itself to the ACS, which moves on by itself.
  await Promise.all([who.page.waitForURL(landing, { timeout: 20000 }), who.page.click(`button[value="${fiscalCode}"]`)]);
  await audit(who, 'signed-in');
}

const mario = await person('citizen');
const giulia = await person('operator');
let caseUrl = null;
let reference = null;

await step('the citizen signs in through the development IdP', async () => {
  await mario.page.goto(`${base}/accesso`);
  await audit(mario, 'sign-in');
  await signInWithDevIdp(mario, 'spid-login', CITIZEN, '**/area-personale');
});

await step('the citizen starts, fills in and submits a case', async () => {
  const { page } = mario;
  await page.goto(`${base}/servizi/${PROCEDURE}`);
  await audit(mario, 'procedure');
  await follow(mario, '[data-element="service-online-access"]', 'start');
  await follow(mario, 'main form button[type=submit]', 'step-1');
  if ((await page.inputValue('input[name=fiscal_code]')) !== CITIZEN) throw new Error('step 1 not prefilled');
  await follow(mario, 'main form:has(input[name=given_name]) button[type=submit]', 'step-2');
  await page.fill('textarea[name=subject]', 'Chiedo il certificato per il mappale 123 del foglio 4.');
  await page.setInputFiles('input[name=attachments]', attachment);
  await follow(mario, 'main form:has(textarea[name=subject]) button[type=submit]', 'summary');
  if (!page.url().endsWith('/riepilogo')) throw new Error(`not on the summary: ${page.url()}`);
  await follow(mario, 'main form[action$="/invia"] button[type=submit]', 'submitted');
  caseUrl = page.url().replace(/[?#].*$/, '');
  if (!/\/area-personale\/pratiche\/[0-9a-f-]{36}$/.test(caseUrl)) throw new Error(`not on the case: ${caseUrl}`);
  reference = (await page.textContent('main')).match(/PR-[0-9A-Z]{10}/)?.[0];
  if (!reference) throw new Error('no case reference on the case page');
});

await step('the operator signs in at the staff sign-in by fiscal code', async () => {
  await giulia.page.goto(`${base}/backoffice/pratiche`);
  if (!giulia.page.url().includes('/backoffice/accesso')) throw new Error(`not sent to sign in: ${giulia.page.url()}`);
  await audit(giulia, 'staff-sign-in');
  await signInWithDevIdp(giulia, 'staff-spid', OPERATOR, '**/backoffice/pratiche');
});

await step('the operator finds the case in the inbox and takes it in charge', async () => {
  const { page } = giulia;
  await page.fill('input[name=q]', reference);
  await follow(giulia, 'form:has(input[name=q]) button[type=submit]', 'inbox-search');
  // The row shows the registry number; the case reference is under it.
  await follow(giulia, `main tr:has-text("${reference}") a[href^="/backoffice/pratiche/"]`, 'desk');
  await follow(giulia, 'form[data-transition="prendi_in_carico"] button[type=submit]', 'taken');
});

await step('the operator asks for an integration', async () => {
  const { page } = giulia;
  const form = 'form[data-transition="richiedi_integrazione"]';
  await page.fill(`${form} textarea[name=motivazione]`, 'Manca l\'estratto di mappa catastale aggiornato.');
  const due = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await page.fill(`${form} input[name=scadenza]`, due);
  await follow(giulia, `${form} button[type=submit]`, 'integration-asked');
});

await step('the citizen answers the request', async () => {
  const { page } = mario;
  await page.goto(caseUrl);
  await audit(mario, 'case-waiting');
  await follow(mario, 'main a[href*="/integrazioni/"]', 'integration');
  await page.fill('main form textarea', 'Allego l\'estratto di mappa con i mappali evidenziati.');
  const file = page.locator('main form input[type=file]');
  if (await file.count()) await file.first().setInputFiles(attachment);
  await follow(mario, 'main form:has(textarea) button[type=submit]', 'integration-answered');
});

await step('the operator sees the answer on the desk', async () => {
  const { page } = giulia;
  await page.reload();
  const text = await page.textContent('main');
  if (!text.includes('Allego l\'estratto di mappa')) throw new Error('the answer is not on the desk');
  await audit(giulia, 'desk-answered');
});

await browser.close();
const report = { steps, failure, reference, pages };
console.log(JSON.stringify(report, null, 2));
const found = pages.some((p) => p.violations.length || p.problems.length || p.overlaps.length);
process.exit(failure || found ? 1 : 0);
