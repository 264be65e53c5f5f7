// The site's search box asks the portal's search (GET /api/v1/search): the same results as the portal's search
// page — morphology, typos, ticket and package codes, synonyms, only what this reader may see — shown in
// Material's own search dropdown (its markup, highlighting, wording from its translations, keyboard).
// Active only where served.js marked the box (the portal serves the edition); nothing from the answer becomes
// markup except <mark> around matched words, rebuilt with DOM methods.
(function () {
  "use strict"
  var box = document.querySelector("[data-portal-search]")
  if (!box || !window.fetch) return
  var input = box.querySelector(".md-search__input")
  var result = box.querySelector(".md-search-result")
  var meta = result && result.querySelector(".md-search-result__meta")
  var list = result && result.querySelector(".md-search-result__list")
  var toggle = document.getElementById("__search")
  if (!input || !meta || !list || !toggle) return

  var config = {}
  try { config = JSON.parse(document.getElementById("__config").textContent) } catch (e) { /* Material's defaults */ }
  var words = config.translations || {}
  // The reader's language: the portal's words (GET /api/v1/me/header, header.js) once they arrive, else
  // Material's translations of the built site (Russian), else the Russian written here.
  var strings = {}
  function say(name, key, fallback) {
    return (typeof strings[name] === "string" && strings[name]) || (key && words[key]) || fallback
  }

  // Asked 150 ms after each change; the query the reader settles on (1.5 s without a change) is asked once
  // more without typing=true, so the search log records it — and not every prefix typed on the way.
  var DELAY_MS = 150, SETTLED_MS = 1500, LIMIT = 10
  var asked = 0, shown = "", timer = null, settled = null, logged = null

  var el = window.portalDom.el, path = window.portalDom.path  // dom.js

  // The snippet is the portal's: article text escaped, matched words in <mark>. Only text and <mark> survive.
  function snippet(html, into) {
    var marked = []
    var doc = new DOMParser().parseFromString("<p>" + (html || "") + "</p>", "text/html")
    doc.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeName === "MARK") {
        into.appendChild(el("mark", {}, node.textContent))
        marked.push(node.textContent.toLowerCase())
      } else {
        into.appendChild(document.createTextNode(node.textContent))
      }
    })
    return marked
  }

  // The title's words that share a stem with a word the snippet marked (the server matched it by its word
  // forms) are marked too: «приоритет» marks «Приоритеты».
  function title(text, marked, into) {
    var stems = marked.map(function (word) { return word.slice(0, Math.max(4, word.length - 2)) })
    text.split(/(\s+)/).forEach(function (part) {
      var bare = part.toLowerCase().replace(/[^\p{L}\p{N}-]/gu, "")
      var hit = bare && stems.some(function (stem) { return bare.indexOf(stem) === 0 })
      into.appendChild(hit ? el("mark", {}, part) : document.createTextNode(part))
    })
  }

  function count(total) {
    if (total === 0) return say("search_none", "search.result.none", "Совпадений не найдено")
    if (total === 1) return say("search_one", "search.result.one", "Найдено 1 совпадение")
    return say("search_many", "search.result.other", "Найдено совпадений: #").replace("#", String(total))
  }

  function clear(text) {
    list.textContent = ""
    meta.textContent = text
  }

  function render(query, data) {
    list.textContent = ""
    meta.textContent = count(data.total)
    if (data.corrected && data.suggestion) {
      var corrected = say("search_corrected", null, " · показаны результаты по запросу «{query}»")
      meta.appendChild(document.createTextNode(corrected.replace("{query}", data.suggestion)))
    }
    ;(data.hits || []).forEach(function (hit) {
      var href = path(hit.url)
      if (!href) return
      var item = el("li", { "class": "md-search-result__item" })
      var link = el("a", { href: href, "class": "md-search-result__link", tabindex: "-1",
                           "data-portal-slug": hit.slug || "" })
      var article = el("article", { "class": "md-search-result__article md-search-result__article--document md-typeset",
                                    "data-md-score": String(hit.score || 0) })
      article.appendChild(el("div", { "class": "md-search-result__icon md-icon" }))
      var text = el("p")
      var marked = snippet(hit.snippet, text)
      var heading = el("h1")
      title(hit.title || href, marked, heading)
      article.appendChild(heading)
      article.appendChild(text)
      link.appendChild(article)
      link.addEventListener("click", function () { remember(query, hit.slug) })
      item.appendChild(link)
      list.appendChild(item)
    })
  }

  // Which search led the reader to the article: the writers see it beside the article's votes.
  function remember(query, slug) {
    log(query)
    if (!slug || !window.portalReader) return
    window.portalReader.then(function (reader) {
      if (!reader || !reader.user || !reader.csrf) return
      var headers = { "Content-Type": "application/json" }
      headers[reader.csrf.header] = reader.csrf.token
      fetch("/api/v1/kb/articles/" + encodeURIComponent(slug) + "/searches", {
        method: "POST", credentials: "same-origin", keepalive: true, headers: headers,
        body: JSON.stringify({ query: query })
      }).catch(function () { /* the log is a nicety: the reader goes on */ })
    })
  }

  function url(query, typing) {
    return "/api/v1/search?limit=" + LIMIT + (typing ? "&typing=true" : "") + "&q=" + encodeURIComponent(query)
  }

  // The settled query, for the search log only: what is shown stays (a hit may have the keyboard's focus).
  function log(query) {
    clearTimeout(settled)
    if (query === logged) return
    logged = query
    fetch(url(query, false), { credentials: "same-origin", keepalive: true, headers: { Accept: "application/json" } })
      .catch(function () { /* the log is a nicety */ })
  }

  function ask(query, typing) {
    var mine = ++asked
    fetch(url(query, typing), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      if (mine !== asked) return null
      if (response.status === 401) {
        clear("")
        var login = el("a", { href: "/login?next=" + encodeURIComponent(location.pathname) },
                       say("search_login", null, "Войдите"))
        meta.appendChild(login)
        meta.appendChild(document.createTextNode(say("search_login_rest", null, ", чтобы искать по базе знаний")))
        return null
      }
      if (!response.ok) {
        return response.json().then(function (body) {
          clear((body && typeof body.detail === "string") ? body.detail : say("search_down", null, "Поиск сейчас не отвечает"))
        }, function () { clear(say("search_down", null, "Поиск сейчас не отвечает")) }).then(function () { return null })
      }
      return response.json()
    }).then(function (data) {
      if (data && mine === asked) { shown = query; render(query, data) }
    }).catch(function () { if (mine === asked) clear(say("search_down", null, "Поиск сейчас не отвечает")) })
  }

  function changed() {
    var query = input.value.trim()
    if (query === shown && list.childNodes.length) return
    clearTimeout(timer)
    clearTimeout(settled)
    logged = null
    if (!query) { asked++; shown = ""; clear(say("search_start", "search.result.placeholder", "Начните печатать для поиска")); return }
    timer = setTimeout(function () { ask(query, true) }, DELAY_MS)
    settled = setTimeout(function () { log(query) }, SETTLED_MS)
  }

  function open() {
    if (!toggle.checked) { toggle.checked = true; toggle.dispatchEvent(new Event("change")) }
  }

  function close() {
    if (toggle.checked) { toggle.checked = false; toggle.dispatchEvent(new Event("change")) }
    input.blur()
  }

  function links() { return Array.prototype.slice.call(list.querySelectorAll(".md-search-result__link")) }

  clear(say("search_start", "search.result.placeholder", "Начните печатать для поиска"))
  if (window.portalReader) {
    window.portalReader.then(function (reader) {
      if (!reader || !reader.strings || typeof reader.strings !== "object") return
      strings = reader.strings
      if (!input.value.trim()) clear(say("search_start", "search.result.placeholder", "Начните печатать для поиска"))
    })
  }
  input.addEventListener("input", changed)
  input.addEventListener("focus", open)
  box.querySelector("form").addEventListener("submit", function (event) { event.preventDefault() })
  box.querySelector("form").addEventListener("reset", function () {
    setTimeout(function () { changed(); input.focus() })
  })
  toggle.addEventListener("change", function () { if (toggle.checked && document.activeElement !== input) input.focus() })
  box.addEventListener("click", function (event) {
    if (event.target instanceof Element && event.target.closest(".md-search-result__link")) close()
  })

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey) return
    var active = document.activeElement
    var typing = active && (active.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName))
    if (!toggle.checked) {
      if (!typing && (event.key === "/" || event.key === "s" || event.key === "f")) {
        event.preventDefault(); open(); input.focus()
      }
      return
    }
    var all = links(), at = all.indexOf(active)
    if (event.key === "Escape" || (event.key === "Tab" && active === input && !all.length)) {
      event.preventDefault(); close()
    } else if (event.key === "Enter" && active === input) {
      event.preventDefault()
      if (all.length) all[0].click()
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (active !== input && at < 0) return
      event.preventDefault()
      var next = event.key === "ArrowDown" ? at + 1 : (at < 0 ? all.length - 1 : at - 1)
      if (next < 0 || next >= all.length) input.focus()
      else all[next].focus()
    }
  })
})()
