// The portal's header on the pages of /kb/ (theme main.html): the page is the same file for every reader of
// an edition, so who is signed in, the menu of their role and sign-out come from the portal per reader.
// Outside the portal (an edition hosted elsewhere) the request fails or answers something else, and the
// region stays empty and hidden. Only DOM methods and textContent: nothing from the answer becomes markup.
(function () {
  "use strict"
  var region = document.querySelector("[data-portal-header]")
  if (!region || !window.fetch) { window.portalReader = Promise.resolve(null); return }

  var el = window.portalDom.el, path = window.portalDom.path  // dom.js

  function fill(data) {
    var brand = el("a", { "class": "portal-bar__brand", href: "/" }, data.brand || "PrimoART")
    region.appendChild(brand)
    if (data.user) {
      var nav = el("nav", { "class": "portal-bar__menu", "aria-label": data.menu_label || "Разделы портала",
                            "data-testid": "portal-menu" })
      ;(data.nav || []).forEach(function (item) {
        var href = path(item.url)
        if (!href) return
        var link = el("a", { href: href }, item.label)
        if (item.current) link.setAttribute("aria-current", "page")
        nav.appendChild(link)
      })
      region.appendChild(nav)
      var who = el("div", { "class": "portal-bar__who" })
      who.appendChild(el("span", { "class": "portal-bar__name", "data-testid": "portal-whoami" }, data.user.label))
      if (data.logout && path(data.logout.url)) {
        var form = el("form", { method: "post", action: data.logout.url, "class": "portal-bar__logout" })
        form.appendChild(el("input", { type: "hidden", name: data.logout.field, value: data.logout.token }))
        form.appendChild(el("button", { type: "submit" }, data.logout.label))
        who.appendChild(form)
      }
      region.appendChild(who)
    } else if (data.login && path(data.login.url)) {
      region.appendChild(el("a", { "class": "portal-bar__login", href: data.login.url }, data.login.label))
    }
    region.hidden = false
    translate(data)
    if (data.can_create_ticket) {
      document.querySelectorAll("[data-portal-ticket]").forEach(function (box) { box.hidden = false })
    }
  }

  // The page's own words in the reader's language (the built page has the Russian ones): each element marked
  // data-portal-text="key" and the search box's placeholder.
  function translate(data) {
    var strings = data.strings
    if (!strings || typeof strings !== "object") return
    if (typeof data.lang === "string" && /^[a-z]{2}$/.test(data.lang)) document.documentElement.lang = data.lang
    document.querySelectorAll("[data-portal-text]").forEach(function (node) {
      var text = strings[node.getAttribute("data-portal-text")]
      if (typeof text === "string" && text) node.textContent = text
    })
    var input = document.querySelector(".md-search__input")
    if (input && strings.search_placeholder) {
      input.setAttribute("placeholder", strings.search_placeholder)
      input.setAttribute("aria-label", strings.search_placeholder)
    }
  }

  // The reader as the portal sees them, for the theme's other scripts (search.js, article.js): null outside
  // the portal.
  window.portalReader = fetch("/api/v1/me/header?page=" + encodeURIComponent(location.pathname), {
    credentials: "same-origin", headers: { Accept: "application/json" }
  }).then(function (response) {
    var type = response.headers.get("content-type") || ""
    if (!response.ok || type.indexOf("application/json") !== 0) return null
    return response.json()
  }).then(function (data) {
    if (!data || data.portal !== "primoart-support") return null
    fill(data)
    return data
  }).catch(function () { return null /* no portal here: the edition is hosted elsewhere */ })
})()
