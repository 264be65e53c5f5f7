/* The new-ticket form's duplicate warning: while a customer types, open tickets of their own organisation that look
   the same (/api/v1/similar/duplicates), each with «add a comment there». Words come from the container's data-*. */
(function () {
  var box = document.querySelector("[data-duplicates]");
  if (!box) return;
  var form = box.closest("form");
  var summary = form.querySelector("[name=summary]"), description = form.querySelector("[name=description]");
  var module = form.querySelector("[name=module]");
  var list = box.querySelector("ul"), timer = null, last = "";
  function show(items) {
    list.innerHTML = "";
    items.forEach(function (item) {
      var li = document.createElement("li"), link = document.createElement("a"), go = document.createElement("a");
      link.href = item.url; link.textContent = item.id;
      link.setAttribute("data-testid", "duplicate-id");
      go.href = item.comment_url; go.className = "button"; go.textContent = box.getAttribute("data-comment");
      go.setAttribute("data-testid", "duplicate-comment");
      li.appendChild(link); li.appendChild(document.createTextNode(" " + item.summary + " "));
      li.appendChild(go); list.appendChild(li);
    });
    box.hidden = items.length === 0;
  }
  function ask() {
    var s = summary.value.trim(), d = description.value.trim().slice(0, 1500);
    if (s.length < 5 && d.length < 20) { show([]); return; }
    var query = "summary=" + encodeURIComponent(s) + "&description=" + encodeURIComponent(d) +
      "&module=" + encodeURIComponent(module ? module.value : "");
    if (query === last) return;
    last = query;
    fetch("/api/v1/similar/duplicates?" + query, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (query === last) show(items); })
      .catch(function () { show([]); });
  }
  function later() { clearTimeout(timer); timer = setTimeout(ask, 400); }
  summary.addEventListener("input", later);
  description.addEventListener("input", later);
  if (module) module.addEventListener("change", later);
  ask();  // a form shown again (an error, a citation) already holds text
})();
