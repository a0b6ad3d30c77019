// The request page's live progress, loaded only while the request is not terminal (no inline script under
// the Content-Security-Policy): poll the history endpoint every 2.5 s, update the bar and counters, refresh
// the plot when the history grew, and stop (reloading once for the final state) when the request is terminal.
(function () {
  var box = document.getElementById("request");
  var id = box.dataset.requestId;
  var points = Number(box.dataset.historyPoints) || 0;
  var fmt = function (v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"); };
  var set = function (elId, v) { var e = document.getElementById(elId); if (e) e.textContent = v; };
  function tick() {
    fetch("/servicex/transformation/" + encodeURIComponent(id) + "/history", { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (h) {
        var c = h.current, files = c.files || 0, done = c["files-completed"], failed = c["files-failed"];
        var remaining = Math.max(0, files - done - failed);
        var pct = function (v) { return files ? (100 * v / files).toFixed(2) + "%" : "0%"; };
        document.getElementById("bar-completed").style.width = pct(done);
        document.getElementById("bar-failed").style.width = pct(failed);
        var bar = document.getElementById("progress");
        bar.setAttribute("aria-valuemax", files);
        bar.setAttribute("aria-valuenow", done + failed);
        bar.setAttribute("aria-valuetext", done + " completed, " + failed + " failed, " + remaining + " remaining of " + files);
        var lookup = /lookup|submitted/i.test(c.status);
        bar.classList.toggle("lookup", lookup);
        document.getElementById("lookup-note").hidden = !lookup;
        set("n-completed", fmt(done)); set("n-failed", fmt(failed)); set("n-remaining", fmt(remaining)); set("n-files", fmt(files));
        var st = document.querySelector("#status .status");
        if (st && st.textContent !== c.status) { st.textContent = c.status; st.className = "status s-" + c.status.toLowerCase().replace(/[^a-z]+/g, "-"); }
        if (h.history.length !== points) {
          points = h.history.length;
          fetch("/transformation-request/" + encodeURIComponent(id) + "/history.svg", { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (svg) { if (svg) { document.getElementById("chart").innerHTML = svg; set("chart-note", points + " points: one per status change and at most one every few seconds while running."); } });
        }
        if (c.terminal) { box.dataset.terminal = "1"; window.location.reload(); return; }
        setTimeout(tick, 2500);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2500);
})();
