// Material's inline head script (partials/javascripts/base.html) as a file, so that /kb/ needs no
// 'unsafe-inline' in its CSP. The site's root is three levels above this file, which is what Material
// computes from base_url: localStorage keys stay the same.
__md_scope = new URL("../../../", document.currentScript.src)
__md_hash = e => [...e].reduce((e, _) => (e << 5) - e + _.charCodeAt(0), 0)
__md_get = (e, _ = localStorage, t = __md_scope) => JSON.parse(_.getItem(t.pathname + "." + e))
__md_set = (e, _, t = localStorage, a = __md_scope) => {
  try {
    t.setItem(a.pathname + "." + e, JSON.stringify(_))
  } catch (e) {}
}
