// The navigation of a knowledge-base page (theme/partials/nav.html): the page carries a placeholder, the
// edition carries the whole navigation once (portal-nav.html, rendered by the build). Its links are relative
// to the edition's root; here they become absolute, the reader's page is marked active and its sections open,
// as Material marks them when it renders the navigation into the page itself.
(function () {
  "use strict"
  var placeholder = document.querySelector("nav[data-portal-nav]")
  if (!placeholder) return
  var source = new URL(placeholder.getAttribute("data-portal-nav"), document.baseURI)
  var here = location.href.split("#")[0].split("?")[0]

  function same(a, b) {
    return a.replace(/index\.html$/, "") === b.replace(/index\.html$/, "")
  }

  fetch(source, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status) })
    .then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html")
      var nav = doc.querySelector("nav.md-nav--primary")
      if (!nav) return
      nav.querySelectorAll("a[href]").forEach(function (link) {
        link.setAttribute("href", new URL(link.getAttribute("href"), source).href)
      })
      nav.querySelectorAll("img[src]").forEach(function (img) {
        img.setAttribute("src", new URL(img.getAttribute("src"), source).href)
      })
      nav.querySelectorAll("a.md-nav__link").forEach(function (link) {
        if (!same(link.href, here)) return
        link.classList.add("md-nav__link--active")
        for (var item = link.closest("li"); item; item = item.parentElement && item.parentElement.closest("li")) {
          item.classList.add("md-nav__item--active")
          var toggle = item.querySelector(":scope > input.md-nav__toggle")
          if (toggle) toggle.checked = true
        }
      })
      placeholder.replaceWith(document.importNode(nav, true))
    })
    .catch(function () { /* the placeholder keeps the link to the start page */ })
})()
