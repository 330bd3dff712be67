/* The SPARQL editor of /query: YASGUI (installed from npm by `make static`, served from this server) in
 * place of the plain form, which stays the page's content without JavaScript.
 *
 * It reads /query/editor.json: the endpoint, our prefixes, the ontology's classes and properties, the
 * entities' labels (completion from our own data: nothing is asked of any other site) and the canned
 * questions, each opened as a tab by the "Example question" form. Links to our IRIs in the results go to
 * this server's pages.
 */
window.calcinosisPages.enhance(["yasgui", "query"], "Yasgui", function (host, textarea) {
  "use strict";

  var Yasgui = window.Yasgui;
  var Yasqe = Yasgui.Yasqe;
  var BASE = "https://w3id.org/calcinosis-kg/";
  var SCRIPT_ROOT = host.getAttribute("data-config").replace(/\/query\/editor\.json$/, "");
  var MAX_HINTS = 40;
  var knownPrefixes = {};

  fetch(host.getAttribute("data-config"), { headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("editor configuration: HTTP " + response.status);
      }
      return response.json();
    })
    .then(start)
    .catch(function (error) {
      console.warn("The SPARQL editor did not start; the plain form is kept.", error);
    });

  /* A CURIE for an IRI with one of our prefixes, else null. */
  function curieOf(iri, prefixes) {
    var best = null;
    Object.keys(prefixes).forEach(function (prefix) {
      var ns = prefixes[prefix];
      var local = iri.indexOf(ns) === 0 ? iri.slice(ns.length) : null;
      if (local && !/[\/#]/.test(local) && (!best || ns.length > best.ns.length)) {
        best = { ns: ns, prefix: prefix, curie: prefix + ":" + local };
      }
    });
    return best;
  }

  /* A completer over [iri, label] pairs: matches the typed IRI start, or words of the label. */
  function termCompleter(name, terms, prefixes, base, validPosition) {
    var labels = {};
    terms.forEach(function (term) {
      labels[term[0]] = term[1];
      var short = curieOf(term[0], prefixes);
      if (short) {
        labels[short.curie] = term[1];
      }
    });
    var preProcess = base && base.preProcessToken;
    return {
      name: name,
      bulk: false,
      autoShow: true,
      persistenceId: null,
      isValidCompletionPosition: validPosition,
      preProcessToken: function (yasqe, token) {
        if (preProcess) {
          return preProcess(yasqe, token);
        }
        token.autocompletionString = token.string.replace(/^</, "").replace(/>$/, "");
        return token;
      },
      get: function (yasqe, token) {
        var typed = (token && token.autocompletionString) || "";
        var expanded = typed;
        var colon = typed.indexOf(":");
        if (colon > 0 && prefixes[typed.slice(0, colon)] && typed.indexOf("//") < 0) {
          expanded = prefixes[typed.slice(0, colon)] + typed.slice(colon + 1);
        }
        var word = expanded.replace(/^.*[\/#:]/, "").replace(/[-_]/g, " ").toLowerCase();
        var starts = [];
        var contains = [];
        terms.forEach(function (term) {
          var label = (term[1] || "").toLowerCase();
          if (term[0].indexOf(expanded) === 0 || (word && label.indexOf(word) === 0)) {
            starts.push(term[0]);
          } else if (word.length > 1 && label.indexOf(word) > 0) {
            contains.push(term[0]);
          }
        });
        return starts.concat(contains).slice(0, MAX_HINTS);
      },
      postProcessSuggestion: function (yasqe, token, iri) {
        var short = curieOf(iri, prefixes);
        return short ? short.curie : "<" + iri + ">";
      },
      postprocessHints: function (yasqe, hints) {
        hints.forEach(function (hint) {
          var label = labels[hint.text] || labels[hint.text.replace(/^<|>$/g, "")];
          if (label) {
            hint.displayText = hint.text + "  \u2014 " + label;
          }
          hint.hint = pickWithPrefix;
        });
        return hints;
      },
    };
  }

  /* Inserts a picked completion and declares its prefix when the query does not. */
  function pickWithPrefix(cm, data, completion) {
    cm.replaceRange(completion.text, completion.from || data.from, completion.to || data.to, "complete");
    var colon = completion.text.indexOf(":");
    var prefix = completion.text.charAt(0) !== "<" && colon > 0 ? completion.text.slice(0, colon) : null;
    if (prefix && knownPrefixes[prefix] && cm.getPrefixesFromQuery()[prefix] === undefined) {
      var added = {};
      added[prefix] = knownPrefixes[prefix];
      cm.addPrefixes(added);
    }
  }

  function completeToken(yasqe) {
    return yasqe.getCompleteToken();
  }

  function startsLikeEntity(text) {
    return text.indexOf("cc:") === 0 || text.indexOf("<" + BASE + "id/") === 0;
  }

  function registerCompleters(config) {
    knownPrefixes = config.prefixes;
    var original = Yasqe.Autocompleters || {};
    var lovClass = original["class"];
    var lovProperty = original.property;
    var classes = termCompleter("class", config.classes, config.prefixes, lovClass, function (yasqe) {
      return lovClass.isValidCompletionPosition(yasqe);
    });
    var properties = termCompleter("property", config.properties, config.prefixes, lovProperty, function (yasqe) {
      var token = completeToken(yasqe);
      return !startsLikeEntity(token.string) && lovProperty.isValidCompletionPosition(yasqe);
    });
    var entities = termCompleter("entity", config.entities, config.prefixes, lovClass, function (yasqe) {
      var token = completeToken(yasqe);
      return startsLikeEntity(token.string) && !lovClass.isValidCompletionPosition(yasqe);
    });
    Yasqe.registerAutocompleter(classes, false);
    Yasqe.registerAutocompleter(properties, false);
    Yasqe.registerAutocompleter(entities, false);
    if (original.prefixes) {
      var ours = Object.keys(config.prefixes).sort().map(function (prefix) {
        return prefix + ": <" + config.prefixes[prefix] + ">";
      });
      var prefixes = Object.assign({}, original.prefixes, {
        get: function () {
          return ours;
        },
        persistenceId: null,
      });
      Yasqe.registerAutocompleter(prefixes, false);
    }
  }

  /* Our IRIs in the results link to this server's pages, in the same window. */
  function localLinks(root) {
    function rewrite() {
      root.querySelectorAll('a[href^="' + BASE + '"]').forEach(function (link) {
        link.setAttribute("href", SCRIPT_ROOT + "/" + link.getAttribute("href").slice(BASE.length));
        link.removeAttribute("target");
      });
    }
    new MutationObserver(rewrite).observe(root, { childList: true, subtree: true });
  }

  function start(config) {
    registerCompleters(config);
    var endpoint = new URL(config.endpoint, window.location.href).href;
    var yasgui = new Yasgui(host, {
      requestConfig: { endpoint: endpoint, method: "POST" },
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: {
        getData: function () {
          return [{ endpoint: endpoint }];
        },
      },
      persistenceId: null,
      populateFromUrl: false,
      tabName: host.getAttribute("data-tab") || "Query",
      yasqe: {
        value: textarea.value,
        autocompleters: ["variables", "prefixes", "class", "property", "entity"],
        resizeable: true,
        editorHeight: "320px",
      },
      yasr: {
        prefixes: config.prefixes,
        defaultPlugin: "table",
        pluginOrder: ["table", "response"],
        persistenceId: null,
        pluginsConfig: { table: { openIriInNewWindow: false } },
      },
    });
    localLinks(host);
    document.documentElement.classList.add("editor-ready");
    host.setAttribute("data-ready", "yes");

    var examples = {};
    config.examples.forEach(function (example) {
      examples[example.name] = example;
    });
    var form = document.querySelector("form.examples");
    var select = document.getElementById("example");
    if (form && select) {
      form.querySelector("button").textContent = "Open as a tab";
      form.addEventListener("submit", function (event) {
        var example = examples[select.value];
        if (!example) {
          return;
        }
        event.preventDefault();
        var open = Object.keys(yasgui._tabs).filter(function (id) {
          return yasgui._tabs[id].name() === example.summary;
        })[0];
        if (open) {
          yasgui.selectTabId(open);
        } else {
          yasgui.addTab(true, { name: example.summary, yasqe: { value: example.query } });
        }
      });
    }
    if (host.getAttribute("data-run") === "yes") {
      yasgui.getTab().query();
    }
    window.calcinosisEditor = yasgui;
  }
});
