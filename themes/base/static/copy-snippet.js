// "Copia" next to a read-only snippet: copies the text of the element named by
// the button's data-copy-from and says so in the status next to it. Without
// JavaScript the button stays hidden and the text can be selected by hand.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy-from]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy-from"));
    var status = document.getElementById(button.getAttribute("aria-describedby"));
    if (!source || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value || source.textContent).then(
        function () { if (status) { status.textContent = button.getAttribute("data-copied"); } },
        function () {
          source.select();
          if (status) { status.textContent = button.getAttribute("data-copy-failed"); }
        }
      );
    });
  });
})();
