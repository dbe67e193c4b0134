// The ente admin in Debian's headless Chromium, as a person clicks: signs in
// at the staff sign-in through the development identity provider, then — once
// with JavaScript and once without (the same session, a second browser
// context with scripts off) — adds a field in the form builder and a status
// and a transition in the workflow editor, each time on a different procedure.
// Every page met is audited as journey.mjs does (axe WCAG 2.1 A/AA at 1280 and
// 390 px, overlapping text, CSP violations and script errors).
// Used by tests/api/admin.rs; prints a JSON report, exit code 1 when anything
// was found or a step could not be done.
//
// Last, with JavaScript, it synchronises the offices with an IPA file through its
// preview, invites a staff member (refused without a fiscal code for SPID, then
// sent) and gives the office-head role a permission in the matrix.
//
//   node tests/browser/admin_journey.mjs BASE_URL SLUG_WITH_JS SLUG_WITHOUT_JS IPA_FILE [SCREENSHOT_DIR]
import fs from 'node:fs';
import path from 'node:path';
import { collectProblems } from './problems.mjs';
import { DESKTOP, PHONE, checkLayout, launch } from './chromium.mjs';

const [base, slugWithJs, slugWithoutJs, ipaFile, screenshots] = process.argv.slice(2);
const ADMIN = 'RSSMRA75B12A794R'; // Mario Rossi, Valmora's ente admin

const browser = await launch();
const pages = [];
const steps = [];
let failure = null;

/// Audits the page at both widths. With scripts off only the screenshots are
/// taken: axe is a script, and the markup is the one audited with scripts on.
async function audit(who, label) {
  const { page } = who;
  await page.waitForLoadState('load');
  const violations = [];
  const found = [];
  for (const viewport of [DESKTOP, PHONE]) {
    await page.setViewportSize(viewport);
    if (screenshots) {
      fs.mkdirSync(screenshots, { recursive: true });
      await page.screenshot({ path: path.join(screenshots, `${pages.length + 1}-${who.name}-${label}-${viewport.width}.png`), fullPage: true });
    }
    if (who.scripts) {
      const checked = await checkLayout(page, viewport.width);
      violations.push(...checked.violations);
      found.push(...checked.overlaps);
    }
  }
  await page.setViewportSize(DESKTOP);
  pages.push({ who: who.name, label, url: page.url(), problems: who.problems.splice(0), violations, overlaps: found });
}

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

/// Ticks a checkbox or a radio by its label, as a person does (Bootstrap
/// Italia draws its own box over the input).
async function tick(page, id) {
  await page.click(`label[for="${id}"]`);
  if (!(await page.isChecked(`#${id}`))) throw new Error(`#${id} is not ticked`);
}

async function expectText(who, text) {
  const main = await who.page.textContent('main');
  if (!main.includes(text)) throw new Error(`"${text}" not on ${who.page.url()}`);
}

const signedIn = await browser.newContext({ locale: 'it-IT', viewport: DESKTOP });
const withJs = { name: 'admin-js', scripts: true, page: await signedIn.newPage() };
withJs.problems = collectProblems(withJs.page);

await step('the admin signs in at the staff sign-in', async () => {
  const { page } = withJs;
  await page.goto(`${base}/admin`);
  if (!page.url().includes('/backoffice/accesso')) throw new Error(`not sent to sign in: ${page.url()}`);
  await follow(withJs, '[data-element="staff-spid"]', 'spid-chooser');
  await follow(withJs, '[data-element="dev-idp"]', 'dev-idp');
  await page.check('input[name=level][value="2"]');
  const landed = (url) => url.pathname.startsWith('/admin') || url.pathname === '/backoffice/pratiche';
  await Promise.all([page.waitForURL(landed, { timeout: 20000 }), page.click(`button[value="${ADMIN}"]`)]);
  await page.goto(`${base}/backoffice/pratiche`);
  await follow(withJs, '[data-element="admin-console-link"]', 'console');
});

// The same session with scripts off: the console must work as plain HTML forms.
const scriptless = await browser.newContext({ locale: 'it-IT', viewport: DESKTOP, javaScriptEnabled: false });
await scriptless.addCookies(await signedIn.cookies());
const withoutJs = { name: 'admin-no-js', scripts: false, page: await scriptless.newPage() };
withoutJs.problems = collectProblems(withoutJs.page);

for (const [who, slug] of [[withJs, slugWithJs], [withoutJs, slugWithoutJs]]) {
  const label = who.scripts ? 'con JavaScript' : 'senza JavaScript';

  await step(`${who.name}: adds a required field to the form`, async () => {
    const { page } = who;
    await page.goto(`${base}/admin/procedure/${slug}/modulo`);
    await audit(who, 'form-builder');
    await page.selectOption('#tipo-1', 'iban');
    await follow(who, '#passo-1 [data-element="add-field"]', 'field-editor');
    await page.fill('#label', `IBAN per il rimborso (${label})`);
    await tick(page, 'required');
    await follow(who, '[data-element="save-field"]', 'form-saved');
    await expectText(who, `IBAN per il rimborso (${label})`);
    await follow(who, '[data-element="form-preview-link"]', 'form-preview');
    await expectText(who, `IBAN per il rimborso (${label})`);
  });

  await step(`${who.name}: adds a status and a transition to the workflow`, async () => {
    const { page } = who;
    await page.goto(`${base}/admin/procedure/${slug}/flusso`);
    await audit(who, 'workflow');
    await follow(who, '[data-element="add-status"]', 'status-editor');
    await page.fill('#label', `Sospesa (${label})`);
    await page.selectOption('#phase', 'in_progress');
    await page.selectOption('#colour', 'warning');
    await page.selectOption('#action_kind-1', 'notify_citizen');
    await page.fill('#action_text-1', 'La pratica è sospesa per un sopralluogo.');
    await follow(who, '[data-element="save-element"]', 'status-saved');
    await expectText(who, 'Flusso di lavoro salvato');
    const key = (await page.getAttribute('[data-element="workflow-statuses"] tbody tr:last-child', 'id')).replace('stato-', '');
    if (!(await page.locator(`svg [data-status="${key}"]`).count())) throw new Error(`${key} is not drawn`);
    await follow(who, '[data-element="add-transition"]', 'transition-editor');
    await page.fill('#label', `Sospendi (${label})`);
    await tick(page, 'from-in_istruttoria');
    await page.selectOption('#to', key);
    await tick(page, 'reason-required');
    await follow(who, '[data-element="save-element"]', 'transition-saved');
    await expectText(who, `Sospendi (${label})`);
    // A refusal is shown next to the input, and the page keeps what was typed.
    await follow(who, '[data-element="add-timer"]', 'timer-editor');
    await page.fill('#after_days', 'trenta');
    await follow(who, '[data-element="save-element"]', 'timer-refused');
    if (!(await page.locator('#after_days-error').count())) throw new Error('no message next to the days');
    if ((await page.inputValue('#after_days')) !== 'trenta') throw new Error('the typed value is lost');
  });

  await step(`${who.name}: the publish page lists the changes`, async () => {
    await who.page.goto(`${base}/admin/procedure/${slug}/pubblica`);
    await audit(who, 'publish');
    await expectText(who, `stato «Sospesa (${label})» aggiunto al flusso`);
    await expectText(who, `IBAN per il rimborso (${label})`);
  });
}

await step('admin-js: synchronises the offices with an IPA file', async () => {
  const { page } = withJs;
  await page.goto(`${base}/admin/uffici`);
  await audit(withJs, 'offices');
  await page.setInputFiles('#file', ipaFile);
  await follow(withJs, '[data-element="ipa-preview"]', 'ipa-preview');
  await expectText(withJs, '13 da aggiungere');
  await follow(withJs, '[data-element="ipa-apply"]', 'ipa-applied');
  await expectText(withJs, 'Sincronizzazione con IPA applicata');
});

await step('admin-js: invites a staff member and changes a permission', async () => {
  const { page } = withJs;
  await page.goto(`${base}/admin/personale`);
  await audit(withJs, 'staff');
  await follow(withJs, '[data-element="invite-staff"]', 'invite');
  await page.fill('#email', 'luca.verdi@valmora.example');
  await tick(page, 'sign_in-spid_cie');
  await tick(page, 'role-operator');
  await tick(page, 'office-UO-TEC');
  await follow(withJs, '[data-element="send-invitation"]', 'invite-refused');
  if (!(await page.locator('#fiscal_code-error').count())) throw new Error('no message next to the fiscal code');
  if (!(await page.isChecked('#role-operator'))) throw new Error('the role ticked is lost');
  await page.fill('#fiscal_code', 'VRDGNN70C15H501Z');
  await follow(withJs, '[data-element="send-invitation"]', 'invited');
  await expectText(withJs, 'Invito inviato');
  if (!(await page.locator('[data-email="luca.verdi@valmora.example"][data-status="invited"]').count())) {
    throw new Error('the invited person is not listed as invited');
  }
  await page.goto(`${base}/admin/permessi`);
  await audit(withJs, 'permissions');
  await tick(page, 'c-office-UO-SERV-read-office_head');
  await follow(withJs, '[data-element="save-matrix"]', 'permissions-saved');
  await expectText(withJs, 'Permessi salvati');
  if (!(await page.isChecked('#c-office-UO-SERV-read-office_head'))) throw new Error('the permission is not saved');
});

await browser.close();
const report = { steps, failure, pages };
console.log(JSON.stringify(report, null, 2));
const found = pages.some((p) => p.violations.length || p.problems.length || p.overlaps.length);
process.exit(failure || found ? 1 : 0);
