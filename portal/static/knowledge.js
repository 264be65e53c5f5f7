// The article editor's live preview: the server renders the Markdown with the site's own extensions.
(function () {
  "use strict";
  var body = document.getElementById("kb-body");
  var preview = document.getElementById("kb-preview");
  if (!body || !preview) { return; }
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var timer = null, sent = 0, shown = 0;

  function render() {
    var mine = ++sent;
    fetch("/api/v1/articles/preview", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({body: body.value})
    }).then(function (r) {
      return r.json().then(function (data) { return {ok: r.ok, data: data}; });
    }).then(function (res) {
      if (mine < shown) { return; }
      shown = mine;
      if (res.ok) {
        // Rendered and sanitised on the server (portal/rendering.py): nothing in it is script.
        preview.innerHTML = res.data.html;
        preview.removeAttribute("data-error");
      } else {
        preview.setAttribute("data-error", "1");
        preview.textContent = res.data.detail || "Предварительный просмотр недоступен.";
      }
    }).catch(function () {
      preview.setAttribute("data-error", "1");
    });
  }

  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(render, 300);
  });
  render();
})();
