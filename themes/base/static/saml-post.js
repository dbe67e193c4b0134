// Sends the SAML request on to the identity provider as soon as the page loads
// (an external file: our CSP allows no inline script). Without JavaScript the
// visitor presses the button instead.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.querySelector('form[data-auto-submit="true"]');
  if (form) { form.submit(); }
});
