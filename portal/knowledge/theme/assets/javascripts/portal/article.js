// What an article page on /kb/ shows one reader (theme main.html): «Исправлено в пакете …» for the packages
// this reader may see (entitled organisation, or staff), and «Помогла ли статья? Да / Нет» with an optional
// comment — from GET/PUT /api/v1/kb/articles/{slug}/reader|vote; and the query of the portal's search page
// that led here (POST …/searches), for the writer. The built page is the same file for every
// reader of an edition, so it names no package; outside the portal both regions stay hidden.
(function () {
  "use strict"
  var page = document.querySelector("[data-portal-article]")
  if (!page || !window.fetch || !window.portalReader) return
  var slug = page.getAttribute("data-portal-article")
  var base = "/api/v1/kb/articles/" + encodeURIComponent(slug)
  var fixed = document.querySelector("[data-portal-fixed]")
  var box = document.querySelector("[data-portal-feedback]")

  var el = window.portalDom.el, path = window.portalDom.path  // dom.js

  function showFixed(packages) {
    if (!fixed || !packages || !packages.length) return
    var list = fixed.querySelector("[data-portal-fixed-list]")
    list.textContent = ""
    packages.forEach(function (pkg, i) {
      var href = path(pkg.url)
      if (!href) return
      if (list.childNodes.length) list.appendChild(document.createTextNode(", "))
      var link = el("a", { href: href }, pkg.title && pkg.title !== pkg.id ? pkg.id + " — " + pkg.title : pkg.id)
      list.appendChild(link)
    })
    var heading = document.querySelector(".md-content__inner h1")
    if (heading) heading.after(fixed)  // under the title, where a reader looks first
    fixed.hidden = false
  }

  function feedback(reader, view) {
    if (!box || !view.can_vote || !reader || !reader.csrf) return
    // The reader's language from the portal (header.js has put it in the page's static words already).
    var strings = reader.strings || {}
    function say(name, fallback) { return (typeof strings[name] === "string" && strings[name]) || fallback }
    var buttons = box.querySelectorAll("[data-vote]")
    var form = box.querySelector("[data-portal-feedback-form]")
    var comment = form.querySelector("textarea")
    var status = box.querySelector("[data-portal-feedback-status]")
    var current = view.vote

    function pressed() {
      buttons.forEach(function (button) {
        var yes = button.getAttribute("data-vote") === "yes"
        button.setAttribute("aria-pressed", String(!!current && current.helpful === yes))
      })
    }

    function send(helpful, text) {
      var headers = { "Content-Type": "application/json", Accept: "application/json" }
      headers[reader.csrf.header] = reader.csrf.token
      status.textContent = say("saving", "Сохраняем…")
      return fetch(base + "/vote", {
        method: "PUT", credentials: "same-origin", headers: headers,
        body: JSON.stringify({ helpful: helpful, comment: text })
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body } })
      }).then(function (answer) {
        if (!answer.ok) {
          var errors = answer.body && answer.body.errors
          status.textContent = (errors && errors.length && errors[0].message) || answer.body.detail ||
            say("save_failed", "Не удалось сохранить ответ; попробуйте ещё раз.")
          return
        }
        current = answer.body.vote
        pressed()
        status.textContent = current.comment ? say("thanks_comment", "Спасибо! Ответ и комментарий сохранены.") :
          (current.helpful ? say("thanks_yes", "Спасибо! Рады, что статья помогла.")
                           : say("thanks_no", "Спасибо! Напишите, чего не хватило, — статью поправят."))
        form.hidden = !!current.comment
      }).catch(function () { status.textContent = say("no_answer", "Портал не ответил; попробуйте ещё раз.") })
    }

    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        send(button.getAttribute("data-vote") === "yes", current && current.comment ? current.comment : null)
      })
    })
    form.addEventListener("submit", function (event) {
      event.preventDefault()
      if (!current) return
      send(current.helpful, comment.value)
    })
    if (current) {
      status.textContent = current.helpful ? say("answered_yes", "Вы уже ответили: да. Можно изменить ответ.")
                                           : say("answered_no", "Вы уже ответили: нет. Можно изменить ответ.")
      comment.value = current.comment || ""
      form.hidden = !!current.comment
    } else {
      form.hidden = true
    }
    pressed()
    box.hidden = false
  }

  // Arrived from a hit of the portal's search page (/search?q=…; the portal sends same-origin referrers):
  // that query led the reader here too. A reload or a step back is not a new arrival.
  function arrivedFromSearch(reader) {
    if (!reader.user || !reader.csrf || !document.referrer) return
    var how = performance.getEntriesByType && performance.getEntriesByType("navigation")[0]
    if (how && how.type !== "navigate") return
    var from
    try { from = new URL(document.referrer) } catch (e) { return }
    var query = from.origin === location.origin && from.pathname === "/search" ? from.searchParams.get("q") : ""
    if (!query || !query.trim()) return
    var headers = { "Content-Type": "application/json" }
    headers[reader.csrf.header] = reader.csrf.token
    fetch(base + "/searches", { method: "POST", credentials: "same-origin", headers: headers,
                                body: JSON.stringify({ query: query.trim().slice(0, 500) }) })
      .catch(function () { /* the log is a nicety */ })
  }

  window.portalReader.then(function (reader) {
    if (!reader) return null
    arrivedFromSearch(reader)
    return fetch(base + "/reader", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null })
      .then(function (view) {
        if (!view) return
        showFixed(view.fixed_in)
        feedback(reader, view)
      })
  }).catch(function () { /* the page reads fine without them */ })
})()
