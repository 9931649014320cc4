// Casebook's little JavaScript: only what htmx cannot do. No inline handlers anywhere
// (the CSP forbids them), so everything is wired here by event delegation, which keeps
// working after htmx swaps new rows in.
(function () {
  "use strict";

  // The viewer's timezone, so the server renders times and "today" on the viewer's clock.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var cookie = "casebook_tz=" + encodeURIComponent(zone);
    if (zone && document.cookie.split("; ").indexOf(cookie) === -1) {
      // From the next request on; the first page was rendered on the server's clock.
      document.cookie = cookie + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: the server's zone is used */ }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#case-table tbody tr")); }
  function panel() { return document.getElementById("detail-panel"); }

  function openRow(row) {
    if (!row) { return; }
    var link = row.querySelector("a.case-link");
    if (link) { link.click(); return; }
    // The Title column may be hidden: open the case the way its link would.
    htmx.ajax("GET", "/cases/" + encodeURIComponent(row.getAttribute("data-case")) + "/",
      { target: "#detail-panel", swap: "innerHTML" });
  }

  function markCurrent(caseId) {
    rows().forEach(function (row) {
      row.classList.toggle("is-current", row.getAttribute("data-case") === caseId);
    });
  }

  function closePanel() {
    var aside = panel();
    if (!aside || !aside.firstElementChild) { return false; }
    var current = document.querySelector("#case-table tr.is-current");
    aside.innerHTML = "";
    markCurrent(null);
    var url = new URL(window.location.href);
    if (url.searchParams.has("case")) {
      url.searchParams.delete("case");
      history.replaceState(history.state, "", url.pathname + url.search);
    }
    if (current) { current.focus(); }
    return true;
  }

  // A click anywhere on a row opens it, as the title link does.
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-close-panel]")) { event.preventDefault(); closePanel(); return; }
    if (target.closest("[data-copy-link]")) {
      var button = target.closest("[data-copy-link]");
      navigator.clipboard.writeText(window.location.href).then(function () {
        button.textContent = "Link copied";
        setTimeout(function () { button.textContent = "Copy link"; }, 2000);
      }, function () { button.textContent = "Copy failed"; });
      return;
    }
    var row = target.closest("#case-table tbody tr");
    if (row && !target.closest("a, button, input, select, label")) { openRow(row); }
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      if (typing) { target.blur(); }
      var open = document.querySelector("details[open]");
      if (open && !typing) { open.removeAttribute("open"); return; }
      if (closePanel()) { event.preventDefault(); }
      return;
    }
    if (typing || event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.key === "/") {
      var search = document.getElementById("id_title");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    var list = rows();
    if (!list.length) { return; }
    var index = list.indexOf(target.closest("#case-table tbody tr"));
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      var next = index === -1 ? 0 : index + (event.key === "j" ? 1 : -1);
      next = Math.max(0, Math.min(list.length - 1, next));
      list[next].focus();
      list[next].scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" && index !== -1) {
      event.preventDefault();
      openRow(list[index]);
    }
  });

  // A search box that narrows a list of options (the agent picker). Its typing is not a
  // filter change, so it must not reach the filter form's hx-trigger.
  document.addEventListener("input", function (event) {
    var box = event.target.closest("[data-filter-list]");
    if (!box) { return; }
    event.stopPropagation();
    var needle = box.value.trim().toLowerCase();
    var list = document.querySelector(box.getAttribute("data-filter-list"));
    if (!list) { return; }
    list.querySelectorAll("label[data-search]").forEach(function (label) {
      label.hidden = needle !== "" && label.getAttribute("data-search").indexOf(needle) === -1;
    });
  }, true);

  // Keep the opened row highlighted, and move focus into the panel for screen readers.
  document.addEventListener("htmx:afterSwap", function (event) {
    var aside = panel();
    if (aside && event.detail.target === aside) {
      var match = /\/cases\/(\d+)\//.exec(event.detail.pathInfo.requestPath || "");
      markCurrent(match ? match[1] : null);
      var heading = aside.querySelector("h2");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: true }); }
    }
  });
})();
