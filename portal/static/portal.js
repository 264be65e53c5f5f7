/* PrimoART support portal: small behaviours of every page. A static file (the CSP allows no inline script);
   each page works without it. */
(function () {
  "use strict";

  // Menu drop-downs (<details class="navgroup">): one open at a time, closed by a click elsewhere or Escape.
  function closeMenus(except) {
    document.querySelectorAll("details.navgroup[open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest ? event.target.closest("details.navgroup") : null);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeMenus(null);
  });

  // Tables become cards on a narrow screen; each cell shows its column's heading there (CSS reads data-label).
  function labelCells() {
    document.querySelectorAll("table.grid").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!heads.length) return;
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        Array.prototype.forEach.call(tr.children, function (cell, i) {
          if (heads[i] && !cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[i]);
          }
        });
      });
    });
  }

  // «Копировать» beside a value a person must compare (a package file's SHA-256).
  function copyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.getElementById(button.getAttribute("data-copy"));
        if (!source) return;
        var text = source.textContent.trim();
        var done = function () {
          var label = button.getAttribute("data-copied") || "OK";
          var original = button.textContent;
          button.textContent = label;
          button.setAttribute("aria-live", "polite");
          window.setTimeout(function () { button.textContent = original; }, 2000);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
        } else {
          selectText(source);  // plain HTTP: the value is selected for Ctrl+C
          done();
        }
      });
    });
  }
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* the selection stays for Ctrl+C */ }
  }

  // A form shown again with errors: each message is tied to its field (aria-describedby, aria-invalid) so a
  // screen reader reads it with the field, and the focus goes to the first field in error (or to the form's
  // message when no field is named), so nobody has to hunt for what to fix.
  function fieldOf(error) {
    var label = error.closest("label");
    var field = label && label.querySelector("input:not([type=hidden]), select, textarea");
    if (field) return field;
    var form = error.closest("form");
    var name = error.getAttribute("data-field");
    if (form && name) {
      field = form.querySelector("[name='" + name.replace(/'/g, "") + "']:not([type=hidden])");
      if (field) return field;
    }
    var previous = error.previousElementSibling;
    if (previous && /^(INPUT|SELECT|TEXTAREA)$/.test(previous.tagName)) return previous;
    // An error about a group of fields (the contacts: «e-mail or phone») names no one field: the group's first
    // empty field is where the fix is typed, else its first field.
    var group = error.closest("fieldset");
    if (!group) return null;
    var fields = Array.prototype.slice.call(group.querySelectorAll(
      "input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, textarea"));
    return fields.filter(function (f) { return !f.value; })[0] || fields[0] || null;
  }
  function tieErrors() {
    var first = null;
    document.querySelectorAll("main .field-error").forEach(function (error, i) {
      var field = fieldOf(error);
      if (!field) return;
      if (!error.id) error.id = "field-error-" + i;
      var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
      if (described.indexOf(error.id) < 0) described.push(error.id);
      field.setAttribute("aria-describedby", described.join(" "));
      field.setAttribute("aria-invalid", "true");
      if (!first) first = field;
    });
    if (!first) {
      first = document.querySelector("main .alert.error");
      if (first && !first.hasAttribute("tabindex")) first.setAttribute("tabindex", "-1");
    }
    if (first && !document.querySelector("[autofocus]:focus")) first.focus();
  }

  function start() { labelCells(); copyButtons(); tieErrors(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
