/* The package upload form checks its fields with the server (GET data-check) as ticket numbers and organisations
   are typed, and once more before the file is sent: a mistyped ticket number is shown under its field and the
   upload does not start, so the chosen file stays chosen. Without this script the server still refuses and
   shows the form again with everything typed. */
(function () {
  var form = document.querySelector("form[data-check]");
  if (!form) return;
  var FIELDS = ["id", "title", "version", "product_versions", "modules", "ticket_ids", "organizations", "supersedes"];
  var checked = false, timer = null;

  function query() {
    var params = new URLSearchParams();
    FIELDS.forEach(function (name) {
      var input = form.elements[name];
      if (input) params.set(name, input.value);
    });
    return form.getAttribute("data-check") + "?" + params.toString();
  }

  function errorOf(name) {
    var input = form.elements[name];
    if (!input) return null;
    var label = input.closest("label") || input.parentNode;
    var shown = label.querySelector('.field-error[data-field="' + name + '"]');
    if (!shown) {
      shown = document.createElement("p");
      shown.className = "field-error";
      shown.setAttribute("role", "alert");
      shown.setAttribute("data-field", name);
      shown.id = "error-" + name;
      label.appendChild(shown);
    }
    return shown;
  }

  function show(errors, names) {
    names.forEach(function (name) {
      var shown = errorOf(name), input = form.elements[name];
      if (!shown) return;
      shown.textContent = errors[name] || "";
      shown.hidden = !errors[name];
      if (errors[name]) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", shown.id);
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
  }

  function check() {
    return fetch(query(), {credentials: "same-origin", headers: {accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {errors: {}}; })
      .then(function (body) { return body.errors || {}; });
  }

  form.querySelectorAll("[data-check-as-typed]").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        if (!input.value.trim()) { show({}, [input.name]); return; }
        check().then(function (errors) { show(errors, [input.name]); }).catch(function () {});
      }, 400);
    });
  });

  form.addEventListener("submit", function (event) {
    if (checked) return;  // checked just now: the upload goes
    event.preventDefault();
    check().then(function (errors) {
      show(errors, FIELDS);
      var first = FIELDS.filter(function (name) { return errors[name]; })[0];
      if (first) {
        var summary = document.getElementById("upload-check-summary");
        if (!summary) {
          summary = document.createElement("div");
          summary.id = "upload-check-summary";
          summary.className = "alert error";
          summary.setAttribute("role", "alert");
          summary.setAttribute("data-testid", "upload-errors");
          form.parentNode.insertBefore(summary, form);
        }
        summary.textContent = form.getAttribute("data-check-failed");
        form.elements[first].focus();
        return;
      }
      checked = true;
      form.requestSubmit ? form.requestSubmit() : form.submit();
    }).catch(function () { checked = true; form.submit(); });  // the server checks again anyway
  });
})();
