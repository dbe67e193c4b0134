// What a page does wrong while it loads, as the browser tests count it: script
// errors, console errors (a CSP refusal is one), failed sub-resources. A 404
// page is itself a 4xx document: only failing sub-resources count.
export function collectProblems(page) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.request().isNavigationRequest()) problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => problems.push(`failed ${r.url()}: ${r.failure()?.errorText}`));
  return problems;
}
