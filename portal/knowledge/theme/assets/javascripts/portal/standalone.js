// An exported copy of the knowledge base (portal kb export), hosted without the portal: `portal kb export`
// puts this file in place of served.js, so Material's own search (the search plugin with lang: ru, over
// search/search_index.json) answers in the search box.
//
// Material reads the query on keyup; text that arrives without one — pasted, chosen from an input method or
// the browser's autofill, typed on some phone keyboards — would leave it at «Начните печатать для поиска».
// Every input event is passed on as a keyup, so Material sees each change however it was made.
(function () {
  "use strict"
  var input = document.querySelector('[data-md-component="search-query"]')
  if (!input) return
  input.addEventListener("input", function () {
    input.dispatchEvent(new KeyboardEvent("keyup", { bubbles: true }))
  })
})()
