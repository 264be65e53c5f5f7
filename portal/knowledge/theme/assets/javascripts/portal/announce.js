// Material's partials/javascripts/announce.html as a file: keeps a dismissed announcement hidden.
var el = document.querySelector("[data-md-component=announce]")
if (el) {
  var content = el.querySelector(".md-typeset")
  __md_hash(content.innerHTML) === __md_get("__announce") && (el.hidden = !0)
}
