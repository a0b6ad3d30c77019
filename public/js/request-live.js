// The request and results pages' enhancements (no inline script under the Content-Security-Policy; each page
// is complete without this file):
// - names the time zone the times are shown in (public/js/pages.js shows them in the viewer's zone);
// - while the request runs: the elapsed time ticks every second, and every 2.5 s the history endpoint is
//   polled to update the bar, the counters, the rate and the time-left estimate, and the plot when the
//   history grew; once the request is terminal the page reloads once for its final state.
(function () {
  var note = document.getElementById("tz-note");
  if (note && window.Intl) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    var off = -new Date().getTimezoneOffset();
    var hhmm = function (m) { return String(Math.floor(Math.abs(m) / 60)).padStart(2, "0") + ":" + String(Math.abs(m) % 60).padStart(2, "0"); };
    note.textContent = "Times are in your time zone, " + zone + " (UTC" + (off < 0 ? "−" : "+") + hhmm(off) + "); hover a time for UTC.";
  }

  var box = document.getElementById("request");
  if (!box || box.dataset.terminal === "1") return;

  var id = box.dataset.requestId;
  var points = Number(box.dataset.historyPoints) || 0;
  var submitMs = Number(box.dataset.submitMs);
  var runStartMs = box.dataset.runStartMs ? Number(box.dataset.runStartMs) : null;
  var fmt = function (v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US"); };
  var set = function (elId, v) { var e = document.getElementById(elId); if (e) e.textContent = v; };
  // The same wording as src/http/presenters/pageFormat.ts.
  var sig3 = function (v) { return v >= 100 ? Math.round(v).toLocaleString("en-US") : v >= 10 ? v.toFixed(1).replace(/\.0$/, "") : v.toFixed(2).replace(/\.?0+$/, ""); };
  var pad = function (n) { return String(n).padStart(2, "0"); };
  function duration(ms) {
    var v = Math.max(0, ms);
    if (v < 1000) return Math.round(v) + " ms";
    if (v < 60000) return sig3(v / 1000) + " s";
    var s = Math.round(v / 1000);
    if (s < 3600) return Math.floor(s / 60) + " min " + pad(s % 60) + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + pad(Math.floor((s % 3600) / 60)) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }
  function bytes(v) {
    var u = ["B", "kB", "MB", "GB", "TB", "PB", "EB"], i = 0;
    if (v < 1000) return Math.round(v) + " B";
    while (v >= 999.5 && i < u.length - 1) { v /= 1000; i++; }
    return sig3(v) + " " + u[i];
  }

  // Elapsed time: a server-rendered value that ticks.
  var elapsed = document.getElementById("elapsed");
  var clock = setInterval(function () { if (elapsed) elapsed.textContent = duration(Date.now() - submitMs); }, 1000);

  function rates(done, remaining, totalBytes, running) {
    if (runStartMs === null || done <= 0) {
      set("rate", running ? "waiting for the first file" : "—");
      set("eta", "not known yet");
      return;
    }
    var secs = (Date.now() - runStartMs) / 1000;
    if (secs <= 0) return;
    var fps = done / secs;
    set("rate", (fps < 0.01 ? "< 0.01" : sig3(fps)) + " files/s" + (totalBytes > 0 ? " · " + bytes(totalBytes / secs) + "/s" : ""));
    set("eta", remaining === 0 ? "finishing" : "about " + duration((remaining / fps) * 1000));
  }

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
        set("n-completed", fmt(done)); set("n-failed", fmt(failed)); set("n-failed-link", fmt(failed));
        set("n-remaining", fmt(remaining)); set("n-files", fmt(files));
        var link = document.getElementById("failed-link"), none = document.getElementById("failed-none");
        if (link && none) { link.hidden = failed === 0; none.hidden = failed !== 0; }
        var st = document.querySelector("#status .status");
        if (st && st.textContent !== c.status) { st.textContent = c.status; st.className = "status s-" + c.status.toLowerCase().replace(/[^a-z]+/g, "-"); }
        if (runStartMs === null) {
          for (var i = 0; i < h.history.length; i++) {
            if (h.history[i].status === "Running") { runStartMs = Date.parse(h.history[i].time); break; }
          }
        }
        var last = h.history.length ? h.history[h.history.length - 1] : null;
        rates(done + failed, remaining, last ? last.bytes : 0, c.status === "Running");
        // The output's totals (as of the last snapshot) and the errors card's count.
        var outFiles = document.getElementById("out-files");
        if (outFiles) outFiles.textContent = fmt(done) + (done === 1 ? " file, " : " files, ") + outFiles.textContent.split(", ").slice(1).join(", ");
        var outBytes = document.getElementById("out-bytes");
        if (last && outBytes) { outBytes.textContent = bytes(last.bytes); outBytes.title = fmt(last.bytes) + " bytes"; set("out-events", fmt(last.events)); }
        var badge = document.getElementById("n-errors");
        if (badge) { badge.textContent = fmt(failed); badge.classList.toggle("bad", failed > 0); }
        var live = document.getElementById("errors-live"), noErr = document.getElementById("no-errors");
        if (live && noErr && failed > 0) { live.hidden = false; noErr.hidden = true; }
        if (h.history.length !== points) {
          points = h.history.length;
          fetch("/transformation-request/" + encodeURIComponent(id) + "/history.svg", { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.text() : null; })
            .then(function (svg) {
              if (!svg) return;
              document.getElementById("chart").innerHTML = svg;
              set("chart-note", points.toLocaleString("en-US") + (points === 1 ? " point" : " points") + ": one per status change and at most one every few seconds while running. Time counts from the submission.");
            });
        }
        if (c.terminal) { clearInterval(clock); box.dataset.terminal = "1"; window.location.reload(); return; }
        setTimeout(tick, 2500);
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2500);
})();
