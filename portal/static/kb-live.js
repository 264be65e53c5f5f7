// The article page's «live in each edition» (templates/knowledge/_builds.html): asks the portal whether this
// node serves the article's latest version in each site edition, and asks again until every edition does —
// right after a publish the writer watches the editions come live one by one. Texts come from the page
// (data-label-*), in the reader's language.
(function () {
  "use strict"
  var box = document.querySelector("[data-kb-live]")
  if (!box) return
  var summary = box.querySelector("[data-kb-live-summary]")
  var label = function (name) { return box.getAttribute("data-label-" + name) || "" }
  var started = Date.now()
  var LIMIT_MS = 15 * 60 * 1000
  var EVERY_MS = 1500

  function stateText(edition) {
    if (edition.live) return edition.shown ? label("live") : label("gone")
    if (edition.state === "building") return edition.shown ? label("building") : label("removing")
    return label("waiting")
  }

  function show(data) {
    var done = 0
    data.editions.forEach(function (edition) {
      var row = box.querySelector('[data-kb-live-edition="' + edition.edition + '"]')
      if (edition.live) done += 1
      if (!row) return
      row.querySelector("[data-kb-live-state]").textContent = stateText(edition)
      row.classList.toggle("kb-live--done", edition.live)
      row.setAttribute("data-state", edition.live ? "live" : edition.state)
    })
    summary.textContent = data.all_live ? label("all")
      : label("progress").replace("{done}", String(done)).replace("{total}", String(data.editions.length))
    box.setAttribute("data-all-live", data.all_live ? "true" : "false")
    return data.all_live
  }

  function poll() {
    fetch(box.getAttribute("data-kb-live"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status) })
      .then(function (data) {
        if (!show(data) && Date.now() - started < LIMIT_MS) setTimeout(poll, EVERY_MS)
      })
      .catch(function () { summary.textContent = label("error") })
  }
  poll()
})()
