// Procedure forms: shows and hides the fields that depend on an answer given on the
// same page (data-show-if = the controlling input's name, data-show-values = the JSON
// list of values that show it; an empty list: any answer, or a ticked checkbox).
// Without this script every field stays visible with its condition written under it,
// and the server ignores the answers of hidden fields either way.
(function () {
  "use strict";

  function currentValue(form, name) {
    var inputs = form.querySelectorAll('[name="' + name.replace(/"/g, '\\"') + '"]');
    var value = "";
    Array.prototype.forEach.call(inputs, function (input) {
      if (input.disabled) return;
      if (input.type === "checkbox") {
        value = input.checked ? "true" : "false";
      } else if (input.type === "radio") {
        if (input.checked) value = input.value;
      } else if (input.type !== "hidden") {
        value = input.value.trim();
      }
    });
    return value;
  }

  function update(form) {
    // In document order, so that a hidden field hides the fields depending on it.
    form.querySelectorAll("[data-show-if]").forEach(function (wrapper) {
      var values = [];
      try {
        values = JSON.parse(wrapper.getAttribute("data-show-values") || "[]");
      } catch (e) {
        values = [];
      }
      var value = currentValue(form, wrapper.getAttribute("data-show-if"));
      var shown = values.length ? values.indexOf(value) !== -1 : value !== "" && value !== "false";
      wrapper.hidden = !shown;
      // Disabled controls are neither validated by the browser nor sent.
      wrapper.querySelectorAll("input, select, textarea, button").forEach(function (control) {
        control.disabled = !shown;
      });
      wrapper.querySelectorAll(".sp-condition").forEach(function (note) {
        note.hidden = true;
      });
    });
  }

  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-show-if]")) return;
    update(form);
    form.addEventListener("change", function () { update(form); });
    form.addEventListener("input", function () { update(form); });
  });
})();
