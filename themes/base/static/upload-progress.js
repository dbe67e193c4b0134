// Shows upload progress for forms that carry files (data-upload-progress).
// Without JavaScript the form posts normally; with it, the same request is sent
// with XMLHttpRequest so the browser reports how much has been sent.
(function () {
  'use strict';
  document.querySelectorAll('form[data-upload-progress]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      var files = form.querySelectorAll('input[type=file]');
      var hasFiles = Array.prototype.some.call(files, function (input) { return input.files && input.files.length > 0; });
      if (!hasFiles || !window.FormData) { return; }
      event.preventDefault();
      var box = form.querySelector('[data-progress]');
      var bar = box && box.querySelector('.progress-bar');
      var text = box && box.querySelector('[data-progress-text]');
      if (box) { box.classList.remove('d-none'); }
      Array.prototype.forEach.call(form.querySelectorAll('button[type=submit]'), function (b) { b.disabled = true; });
      var request = new XMLHttpRequest();
      request.open('POST', form.action);
      request.upload.addEventListener('progress', function (e) {
        if (!e.lengthComputable || !bar) { return; }
        var percent = Math.floor((e.loaded / e.total) * 100);
        bar.style.width = percent + '%';
        bar.setAttribute('aria-valuenow', String(percent));
        if (text) { text.textContent = percent + '%'; }
      });
      request.addEventListener('load', function () {
        // A redirect was followed: go where it led. Otherwise show the page
        // the server answered (errors next to the fields).
        if (request.responseURL && request.responseURL !== form.action) {
          window.location.assign(request.responseURL);
        } else {
          document.open();
          document.write(request.responseText);
          document.close();
        }
      });
      request.addEventListener('error', function () {
        Array.prototype.forEach.call(form.querySelectorAll('button[type=submit]'), function (b) { b.disabled = false; });
        if (box) { box.classList.add('d-none'); }
      });
      request.send(new FormData(form));
    });
  });
})();
