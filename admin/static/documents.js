// Documents and API tokens: show the chosen file names, highlight the drop zone, open a
// document's history in a side drawer, copy a new token, confirm a revocation. Everything works
// without it (a document's name then opens its history as a page).
(function () {
  "use strict";

  document.querySelectorAll(".doc-drop").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var chosen = zone.querySelector(".doc-chosen");
    if (!input || !chosen) return;
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
      if (names.length === 0) chosen.textContent = "";
      else if (names.length <= 3) chosen.textContent = names.join(", ");
      else chosen.textContent = chosen.dataset.many.replace("{count}", names.length);
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.add("is-over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-over"); });
    });
  });

  // ------------------------------------------------------------------ the History drawer
  //
  // A modal <dialog> (the browser keeps focus inside and closes it on Esc). Opening it puts
  // #history-<id> in the address (Back closes it; a reload or a shared link opens it again);
  // closing it gives focus back to the document's name.
  var drawer = document.getElementById("history-drawer");
  if (drawer) {
    var content = drawer.querySelector(".hist-content");
    var opener = null; // the link focus goes back to
    var shownId = null;
    var changed = false; // a retry happened: the row's status is refreshed on close
    var loading = 0; // only the latest request fills the drawer

    var linkFor = function (id) {
      return document.querySelector('a.js-history[data-document="' + id + '"]');
    };
    // The page gives the route's address with ID standing for the document (URLs come from route
    // names, in one place: admin/render.py).
    var historyUrl = function (id) { return drawer.dataset.historyUrl.replace("ID", id); };
    var idIn = function (hash) {
      var match = /^#history-(\d+)$/.exec(hash || "");
      return match ? match[1] : null;
    };

    var message = function (text, id) {
      content.textContent = "";
      var p = document.createElement("p");
      p.className = "hist-loading";
      p.textContent = text;
      if (id) {
        var a = document.createElement("a");
        a.href = historyUrl(id);
        a.textContent = drawer.dataset.openPage;
        p.appendChild(document.createTextNode(" "));
        p.appendChild(a);
      }
      content.appendChild(p);
    };

    var fill = function (html, focusNotice) {
      content.innerHTML = html;
      content.setAttribute("aria-busy", "false");
      var target = (focusNotice && content.querySelector(".hist-notice")) ||
        content.querySelector("#hist-title");
      if (target) target.focus();
    };

    var load = function (id) {
      var ticket = ++loading;
      content.setAttribute("aria-busy", "true");
      message(drawer.dataset.loading);
      fetch(historyUrl(id) + "?partial=1", { credentials: "same-origin" })
        .then(function (response) {
          // Signed out meanwhile: the history's own page leads through sign-in and back.
          if (response.redirected) window.location.href = historyUrl(id);
          if (!response.ok || response.redirected) throw new Error("history " + response.status);
          return response.text();
        })
        .then(function (html) { if (ticket === loading) fill(html, false); })
        .catch(function () {
          if (ticket !== loading) return;
          content.setAttribute("aria-busy", "false");
          message(drawer.dataset.failed, id);
        });
    };

    var open = function (id, how) {
      opener = linkFor(id) || opener;
      shownId = id;
      changed = false;
      if (how === "push") {
        history.pushState({ relaisHistory: id }, "", "#history-" + id);
      } else if (how === "initial") {
        history.replaceState({ relaisHistory: id, initial: true }, "", "#history-" + id);
      }
      if (!drawer.open) drawer.showModal();
      load(id);
    };

    // The folder page behind the drawer still shows the status from before a retry.
    var refreshRow = function (id) {
      fetch(window.location.pathname + window.location.search, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : ""; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var selector = 'tr[data-document="' + id + '"] td:last-child';
          var cell = document.querySelector(selector);
          var newer = fresh.querySelector(selector);
          if (cell && newer) cell.innerHTML = newer.innerHTML;
        })
        .catch(function () { /* the next visit shows it */ });
    };

    var leaving = false; // the drawer is closing because of Back: do not go back again
    drawer.addEventListener("close", function () {
      loading++;
      content.textContent = "";
      var id = shownId;
      shownId = null;
      if (changed && id) refreshRow(id);
      var state = history.state;
      if (!leaving && state && state.relaisHistory) {
        if (state.initial) {
          history.replaceState(null, "", window.location.pathname + window.location.search);
        } else {
          history.back();
        }
      }
      leaving = false;
      var back = opener || (id && linkFor(id)) || document.getElementById("main");
      if (back) back.focus();
    });

    drawer.querySelector("[data-history-close]").addEventListener("click", function () {
      drawer.close();
    });
    // A click on the dimmed page around the drawer closes it too.
    drawer.addEventListener("click", function (event) {
      if (event.target === drawer) {
        var box = drawer.getBoundingClientRect();
        var inside = event.clientX >= box.left && event.clientX <= box.right &&
          event.clientY >= box.top && event.clientY <= box.bottom;
        if (!inside) drawer.close();
      }
    });

    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.js-history");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      opener = link;
      open(link.dataset.document, "push");
    });

    // Retry inside the drawer: the same form, posted in the background; the answer is the
    // history again, with its notice.
    content.addEventListener("submit", function (event) {
      var form = event.target.closest("form.js-history-retry");
      if (!form) return;
      event.preventDefault();
      var data = new FormData(form);
      data.append("partial", "1");
      var button = form.querySelector("button");
      if (button) button.disabled = true;
      var ticket = ++loading;
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) {
          // Anything but the history fragment (an error page, the sign-in page): post it again
          // the ordinary way, so that page is shown whole.
          if (!response.ok || response.url.indexOf("partial=1") === -1) {
            throw new Error("retry " + response.status);
          }
          return response.text();
        })
        .then(function (html) {
          if (ticket !== loading) return;
          changed = true;
          fill(html, true);
        })
        .catch(function () { form.submit(); });
    });

    window.addEventListener("popstate", function (event) {
      var id = event.state && event.state.relaisHistory;
      var linked = !id && idIn(window.location.hash); // a followed link to #history-<id>
      if (id) {
        open(String(id), "none");
      } else if (linked) {
        open(linked, "initial");
      } else if (drawer.open) {
        leaving = true;
        drawer.close();
      }
    });

    var first = idIn(window.location.hash);
    if (first) open(first, "initial");
  }

  document.querySelectorAll(".js-copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.dataset.copy);
      if (!field) return;
      field.select();
      var done = function () {
        var label = button.textContent;
        button.textContent = button.dataset.done;
        setTimeout(function () { button.textContent = label; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done);
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  document.querySelectorAll("form.js-confirm").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
})();
