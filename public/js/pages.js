// Shared by every page (loaded at the end of <body>; the Content-Security-Policy allows no inline script).
(function () {
  // Bar widths come as data-pct (no inline style attributes under the CSP); set through the CSSOM.
  window.sxBars = function (root) {
    (root || document).querySelectorAll("[data-pct]").forEach(function (e) {
      e.style.width = e.dataset.pct + "%";
    });
  };
  // Times are rendered in UTC (<time datetime>, readable without JavaScript); shown here in the viewer's
  // time zone, with the UTC time on hover.
  var fmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  window.sxLocalTimes = function (root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) {
      if (t.dataset.local) return;
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d)) return;
      t.title = d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
      t.textContent = fmt.format(d);
      t.dataset.local = "1";
    });
  };
  window.sxBars();
  window.sxLocalTimes();
})();
