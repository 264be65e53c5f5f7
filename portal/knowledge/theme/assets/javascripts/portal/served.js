// This edition is served by the portal at /kb/: its search box is the portal's search (search.js), which knows
// word forms, typos, codes and synonyms and what this reader may see. Runs before Material's bundle and takes
// Material's own search component out of its way (the bundle mounts only what is marked
// data-md-component="search", and fetches the whole search_index.json only when a form is named "search").
//
// `portal kb export` replaces this file in the exported copy with one that does nothing, so an edition hosted
// elsewhere keeps Material's own search (the search plugin with lang: ru) over its search_index.json.
(function () {
  "use strict"
  var search = document.querySelector('[data-md-component="search"]')
  if (!search) return
  search.removeAttribute("data-md-component")
  search.setAttribute("data-portal-search", "")
  var form = search.querySelector('form[name="search"]')
  if (form) form.removeAttribute("name")
})()
