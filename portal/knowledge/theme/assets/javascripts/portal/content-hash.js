// Material's partials/javascripts/content.html as a file: opens the tab the address points at.
var target = document.getElementById(location.hash.slice(1))
target && target.name && (target.checked = target.name.startsWith("__tabbed_"))
