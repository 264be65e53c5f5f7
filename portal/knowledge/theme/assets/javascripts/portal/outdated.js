// Material's partials/javascripts/outdated.html as a file (base_url is the site's root, __md_scope).
var el = document.querySelector("[data-md-component=outdated]"),
  outdated = __md_get("__outdated", sessionStorage, __md_scope)
!0 === outdated && el && (el.hidden = !1)
