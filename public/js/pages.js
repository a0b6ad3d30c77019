// Shared by every page (loaded at the end of <body>; the Content-Security-Policy allows no inline script).
// Everything here enhances a page that works without it.
(function () {
  // Bar widths come as data-pct (no inline style attributes under the CSP); set through the CSSOM.
  window.sxBars = function (root) {
    (root || document).querySelectorAll("[data-pct]").forEach(function (e) {
      e.style.width = e.dataset.pct + "%";
    });
  };
  // Times are rendered in UTC (<time datetime>, readable without JavaScript); shown here in the viewer's
  // time zone, named ("EST", "GMT+1"), with the UTC time on hover.
  var fmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
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

  // Copy buttons (hidden without JavaScript): data-copy names the element whose text is copied.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    var source = document.getElementById(b.dataset.copy);
    if (!source) return;
    var note = b.parentNode.querySelector(".copied");
    var said = function (text) {
      if (note) note.textContent = text;
    };
    b.hidden = false;
    b.addEventListener("click", function () {
      var text = source.textContent.trim();
      var fallback = function () {
        // Plain http outside localhost has no navigator.clipboard: select the text for Ctrl+C instead.
        var details = source.closest("details");
        if (details) details.open = true;
        var range = document.createRange();
        range.selectNodeContents(source);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        said("Selected: press Ctrl+C (⌘C) to copy.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          said("Copied.");
        }, fallback);
      } else fallback();
    });
  });

  // Links to a confirmation page (data-confirm) open that page's question in a dialog on top of this one;
  // its form posts as the page's would. Anything unexpected (a redirect, an error) follows the link instead.
  if (typeof HTMLDialogElement !== "function") return;
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-confirm]");
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    var go = function () {
      window.location.href = a.href;
    };
    fetch(a.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("not a confirmation page");
        return r.text();
      })
      .then(function (html) {
        var box = new DOMParser().parseFromString(html, "text/html").getElementById("confirm-box");
        if (!box) throw new Error("not a confirmation page");
        var dialog = document.createElement("dialog");
        dialog.className = "confirm-dialog";
        dialog.setAttribute("aria-labelledby", "confirm-heading");
        var heading = box.querySelector("h1");
        if (heading) {
          // A dialog's title is not the page's main heading.
          var h2 = document.createElement("h2");
          h2.id = heading.id;
          h2.textContent = heading.textContent;
          heading.replaceWith(h2);
        }
        box.removeAttribute("id");
        dialog.append(document.importNode(box, true));
        document.body.append(dialog);
        var cancel = dialog.querySelector("[data-cancel]");
        if (cancel) {
          cancel.addEventListener("click", function (e) {
            e.preventDefault();
            dialog.close();
          });
        }
        dialog.addEventListener("close", function () {
          dialog.remove();
          a.focus();
        });
        dialog.showModal();
        // The least destructive choice has the focus (Enter does not delete).
        if (cancel) cancel.focus();
      })
      .catch(go);
  });
})();
