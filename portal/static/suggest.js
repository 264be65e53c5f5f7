/* Suggest-as-you-type for every input marked data-suggest: titles from /api/v1/search/suggest. */
(function () {
  document.querySelectorAll("input[data-suggest]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var timer = null, last = "";
    function clear() { list.innerHTML = ""; list.hidden = true; }
    function show(items) {
      list.innerHTML = "";
      items.forEach(function (item) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = item.url; a.textContent = item.title; li.setAttribute("role", "option");
        li.appendChild(a); list.appendChild(li);
      });
      list.hidden = items.length === 0;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var value = input.value;
      if (value.trim().length < 2) { clear(); return; }
      timer = setTimeout(function () {
        if (value === last) return;
        last = value;
        fetch("/api/v1/search/suggest?q=" + encodeURIComponent(value), {credentials: "same-origin"})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (items) { if (input.value === value) show(items); })
          .catch(clear);
      }, 150);
    });
    input.addEventListener("keydown", function (e) { if (e.key === "Escape") clear(); });
    document.addEventListener("click", function (e) { if (!list.contains(e.target) && e.target !== input) clear(); });
  });
})();
