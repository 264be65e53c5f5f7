// What the portal's scripts on /kb/ (header.js, search.js, article.js) build pages with: elements made with DOM
// methods and textContent only, so nothing from an answer becomes markup, and links only to same-site paths
// (the answers are the portal's own, but a link never leaves the site).
(function () {
  "use strict"
  function el(tag, attrs, text) {
    var node = document.createElement(tag)
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]) })
    if (text) node.textContent = text
    return node
  }

  function path(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null
  }

  window.portalDom = { el: el, path: path }
})()
