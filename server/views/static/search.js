/* The home page's search box: suggestions from /lookup as you type (labels, synonyms, codes), each a link to
 * the resource's page. Without JavaScript the form goes to /search. */
window.calcinosisPages.enhance(["search-box", "search-suggestions"], null, function (box, list) {
  "use strict";

  if (!box.getAttribute("data-lookup")) {
    return;
  }
  var BASE = "https://w3id.org/calcinosis-kg/";
  var lookup = box.getAttribute("data-lookup");
  var scriptRoot = lookup.replace(/\/lookup$/, "");
  var pending = null;
  var latest = "";

  function localPath(iri) {
    return iri.indexOf(BASE) === 0 ? scriptRoot + "/" + iri.slice(BASE.length) : null;
  }

  function show(results) {
    list.textContent = "";
    results.forEach(function (result) {
      var href = localPath(result.iri);
      if (!href) {
        return;
      }
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      var link = document.createElement("a");
      link.href = href;
      link.textContent = result.label;
      item.appendChild(link);
      var details = [];
      // A hidden label (a source's own wording, not a synonym) finds the entity but is never shown as its name.
      var hidden = result.match === "exact-hidden-label" || result.match === "hidden-label-prefix";
      if (result.matched && result.matched !== result.label && !hidden) {
        details.push(result.matched);
      }
      if (result.type && result.type.label) {
        details.push(result.type.label);
      }
      if (details.length) {
        var note = document.createElement("span");
        note.className = "note";
        note.textContent = " " + details.join(" · ");
        item.appendChild(note);
      }
      list.appendChild(item);
    });
    list.hidden = list.children.length === 0;
  }

  function ask() {
    var text = box.value.trim();
    latest = text;
    if (text.length < 2) {
      show([]);
      return;
    }
    fetch(lookup + "?" + new URLSearchParams({ q: text, limit: "8" }).toString(), {
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : [];
      })
      .then(function (results) {
        if (text === latest) {
          show(results);
        }
      })
      .catch(function () {
        show([]);
      });
  }

  box.addEventListener("input", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(ask, 120);
  });
  box.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" && !list.hidden) {
      event.preventDefault();
      list.querySelector("a").focus();
    } else if (event.key === "Escape") {
      list.hidden = true;
    }
  });
  list.addEventListener("keydown", function (event) {
    var item = document.activeElement && document.activeElement.parentElement;
    if (event.key === "ArrowDown" && item && item.nextElementSibling) {
      event.preventDefault();
      item.nextElementSibling.querySelector("a").focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (item && item.previousElementSibling) {
        item.previousElementSibling.querySelector("a").focus();
      } else {
        box.focus();
      }
    } else if (event.key === "Escape") {
      list.hidden = true;
      box.focus();
    }
  });
});
