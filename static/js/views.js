// Saved views and the queue overview: the little htmx cannot do under our CSP.
(function () {
  "use strict";

  var REFRESH_MS = 60000;
  var lastRefresh = Date.now();

  // Live numbers (the queue overview, the sidebar's counts) refresh every minute, but only
  // while the tab is visible. htmx's own `every 60s [filter]` evaluates the filter with eval,
  // which our CSP forbids, so the elements listen for this event instead.
  function refreshVisible() {
    lastRefresh = Date.now();
    ["queue-overview", "sidebar-views"].forEach(function (id) {
      var element = document.getElementById(id);
      if (element && window.htmx) { window.htmx.trigger(element, "refresh-visible"); }
    });
  }
  setInterval(function () { if (!document.hidden) { refreshVisible(); } }, REFRESH_MS);
  // Back to a tab left in the background for more than a minute: refresh now, not at the next tick.
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && Date.now() - lastRefresh >= REFRESH_MS) { refreshVisible(); }
  });

  // "Save view" saves the filters on screen: htmx may have changed them (and the URL) since the
  // page was rendered with its hidden query field.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-save-view]")) { return; }
    var field = form.querySelector("input[name='query']");
    if (field) { field.value = window.location.search.replace(/^\?/, ""); }
  }, true);

  // A saved view's stable link, made absolute for pasting into chat.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-url]");
    if (!button) { return; }
    var url = new URL(button.getAttribute("data-copy-url"), window.location.href).href;
    var label = button.textContent;
    navigator.clipboard.writeText(url).then(function () {
      button.textContent = "Link copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    }, function () { button.textContent = "Copy failed"; });
  });
})();
