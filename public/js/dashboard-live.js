// The dashboards' live rows (docs/api.md "Pages"), loaded only when the page lists an active request (no
// inline script under the Content-Security-Policy). Every few seconds it asks /dashboard/live for the rows
// still active (their Status cell has data-live-id), swaps in the cells the server rendered, announces a
// status change to screen readers, and stops once nothing on the page is active. Paused while the tab is
// hidden. Without JavaScript the page is the same, as of its loading.
(function () {
  var table = document.querySelector("table.dashboard[data-live]");
  if (!table || !window.fetch) return;
  var state = document.getElementById("live-state");
  var news = document.getElementById("live-news");
  var interval = 3000;
  var timer = null;
  var failures = 0;

  function activeIds() {
    var ids = [];
    table.querySelectorAll("td[data-live-id]").forEach(function (td) { ids.push(td.getAttribute("data-live-id")); });
    return ids;
  }
  function asked() {
    // id:version, so the server renders only rows that changed since the page (or the last poll) drew them.
    var out = [];
    table.querySelectorAll("td[data-live-id]").forEach(function (td) {
      out.push(td.getAttribute("data-live-id") + ":" + td.getAttribute("data-live-v"));
    });
    return out;
    return ids;
  }
  function rowOf(id) {
    var td = table.querySelector('td[data-live-id="' + id + '"]');
    return td ? td.parentNode : null;
  }
  // The filters' counts follow a row that changes filter (e.g. Active to Failed when it completes with failures).
  var FILTER_OF = { "Complete": "complete", "Canceled": "canceled", "Fatal": "failed", "Bad Dataset": "failed", "Complete with failures": "failed" };
  function filterOf(badge) { return FILTER_OF[badge] || "active"; }
  function bump(filter, by) {
    var n = document.querySelector('nav.filters a[data-filter="' + filter + '"] .count');
    if (!n) return;
    var v = Number(n.textContent.replace(/,/g, "")) + by;
    if (v >= 0) n.textContent = v.toLocaleString("en-US");
  }
  function move(was, now) {
    if (!was || filterOf(was) === filterOf(now)) return;
    bump(filterOf(was), -1);
    bump(filterOf(now), 1);
  }
  function show(text) {
    if (!state) return;
    state.hidden = !text;
    state.textContent = text || "";
  }
  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(tick, ms);
  }
  function tick() {
    var ids = activeIds();
    if (ids.length === 0) { show("Nothing on this page is active: live updates stopped."); return; }
    if (document.hidden) return; // visibilitychange resumes
    var sep = table.getAttribute("data-live").indexOf("?") < 0 ? "?" : "&";
    fetch(table.getAttribute("data-live") + sep + "ids=" + asked().join(","), {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { show("Live updates stopped: sign in again to see new states."); return null; }
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then(function (body) {
        if (!body) return;
        failures = 0;
        interval = body.interval || interval;
        var seen = {};
        body.rows.forEach(function (row) { seen[row.id] = true; });
        // A row the server no longer returns (deleted meanwhile) is not asked for again.
        ids.forEach(function (id) { if (!seen[id]) { var tr = rowOf(id); if (tr) tr.querySelector("td[data-live-id]").removeAttribute("data-live-id"); } });
        body.rows.forEach(function (row) {
          var tr = rowOf(row.id);
          if (!tr || row.same) return;
          var before = tr.querySelector(".status");
          var was = before ? before.textContent : "";
          tr.innerHTML = row.html;
          if (window.sxBars) window.sxBars(tr);
          if (window.sxLocalTimes) window.sxLocalTimes(tr);
          if (was !== row.status) {
            if (news) news.textContent = row.title + ": " + row.status;
            move(was, row.status);
          }
        });
        var left = activeIds().length;
        show(left ? "Updating " + left + (left === 1 ? " active request" : " active requests") + " live." : "Nothing on this page is active: live updates stopped.");
        if (left) schedule(interval);
      })
      .catch(function () {
        failures++;
        show("Live updates paused: the server did not answer. Retrying.");
        schedule(Math.min(60000, interval * Math.pow(2, failures)));
      });
  }
  document.addEventListener("visibilitychange", function () { if (!document.hidden) schedule(0); });
  show("Updating " + activeIds().length + (activeIds().length === 1 ? " active request" : " active requests") + " live.");
  schedule(interval);
})();
