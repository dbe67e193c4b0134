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
  // ERR_ABORTED is the browser cancelling a request it no longer needs (the page
  // navigated on, or a resize swapped an image while it loaded): no fault of the
  // server's, and under load in CI it happened now and then. Every other failure counts.
  page.on('requestfailed', (r) => {
    const error = r.failure()?.errorText;
    if (error !== 'net::ERR_ABORTED') problems.push(`failed ${r.url()}: ${error}`);
  });
  return problems;
}
