/* The resource page's neighbourhood as an interactive graph (Cytoscape.js, installed from npm by
 * `make static` and served from this server), in place of the server-drawn SVG kept without JavaScript.
 * Drag to move, wheel to zoom; a click on a node opens its page. */
window.calcinosisPages.enhance(["neighbourhood-graph", "neighbourhood-svg"], "cytoscape", function (host, fallback) {
  "use strict";

  var elements = JSON.parse(host.getAttribute("data-elements") || "[]");
  if (elements.length < 2) {
    return;
  }
  // Cytoscape adds a <style> element unless one with this id exists; the CSP forbids inline styles, and
  // style.css gives its container rule instead.
  if (!document.getElementById("__________cytoscape_stylesheet")) {
    var marker = document.createElement("meta");
    marker.id = "__________cytoscape_stylesheet";
    document.head.appendChild(marker);
  }
  /* Positions: the resource in the middle, each relation a cluster (a small grid of its neighbours) on a
   * circle around it, clusters spaced in proportion to their size. */
  function radial(items) {
    var DX = 135;
    var DY = 44;
    var clusters = [];
    var members = {};
    items.forEach(function (item) {
      if (item.data.kind === "relation") {
        clusters.push(item.data.id);
        members[item.data.id] = [];
      }
    });
    items.forEach(function (item) {
      if (item.data.parent && members[item.data.parent]) {
        members[item.data.parent].push(item.data.id);
      }
    });
    var sizes = clusters.map(function (id) {
      var count = members[id].length;
      var columns = Math.max(1, Math.min(3, Math.ceil(Math.sqrt(count))));
      var rows = Math.ceil(count / columns);
      return { columns: columns, rows: rows, span: Math.max(columns * DX, rows * DY) + 50 };
    });
    var circumference = sizes.reduce(function (sum, size) {
      return sum + size.span;
    }, 0);
    var radius = Math.max(90, (0.6 * circumference) / (2 * Math.PI));
    var positions = { resource: { x: 0, y: 0 } };
    var along = 0;
    clusters.forEach(function (id, index) {
      var size = sizes[index];
      var angle = ((along + size.span / 2) / circumference) * 2 * Math.PI - Math.PI / 2;
      along += size.span;
      // far enough out that the cluster's near edge clears the resource and its label
      var reach =
        radius +
        0.5 * Math.abs(Math.cos(angle)) * size.columns * DX +
        0.5 * Math.abs(Math.sin(angle)) * size.rows * DY;
      var cx = reach * Math.cos(angle);
      var cy = reach * Math.sin(angle);
      members[id].forEach(function (member, position) {
        var column = position % size.columns;
        var row = Math.floor(position / size.columns);
        positions[member] = {
          x: cx + (column - (size.columns - 1) / 2) * DX,
          y: cy + (row - (size.rows - 1) / 2) * DY,
        };
      });
    });
    return positions;
  }

  host.hidden = false;
  fallback.hidden = true;
  var cy = window.cytoscape({
    container: host,
    elements: elements,
    minZoom: 0.2,
    maxZoom: 3,
    style: [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "font-size": 11,
          "font-family": "system-ui, sans-serif",
          color: "#1d1d1f",
          "text-valign": "bottom",
          "text-margin-y": 3,
          "text-wrap": "ellipsis",
          "text-max-width": 140,
          width: 14,
          height: 14,
          "background-color": "#d7a774",
          "border-width": 1,
          "border-color": "#7a3d12",
        },
      },
      {
        selector: 'node[kind = "relation"]',
        style: {
          shape: "round-rectangle",
          "background-color": "#f4efe6",
          "background-opacity": 0.6,
          "border-color": "#d9d4cc",
          "text-valign": "top",
          "text-margin-y": -4,
          "font-weight": "bold",
          color: "#5b5b66",
          padding: 12,
        },
      },
      { selector: 'node[kind = "incoming"]', style: { "background-color": "#a9c1da", "border-color": "#3b6a99" } },
      // from the HPO named graph (the genetic differential's diseases and genes): green, links dashed
      {
        selector: 'node[graph][kind != "relation"]',
        style: { "background-color": "#b7d9b3", "border-color": "#3d7a36" },
      },
      { selector: "edge[graph]", style: { "line-style": "dashed" } },
      {
        selector: 'node[kind = "centre"]',
        style: {
          width: 26,
          height: 26,
          "background-color": "#7a3d12",
          "font-weight": "bold",
          "font-size": 13,
          "text-max-width": 260,
        },
      },
      {
        selector: "edge",
        style: {
          width: 1,
          "line-color": "#b9ab98",
          "target-arrow-color": "#b9ab98",
          "target-arrow-shape": "triangle",
          "curve-style": "bezier",
          label: "",
          "font-size": 9,
          color: "#5b5b66",
          "text-rotation": "autorotate",
          "text-background-color": "#fffdf9",
          "text-background-opacity": 1,
        },
      },
      { selector: "node:selected, node.hover", style: { "border-width": 3 } },
      { selector: "edge.hover", style: { label: "data(label)", "line-color": "#7a3d12", width: 2 } },
    ],
    layout: { name: "preset", positions: radial(elements), fit: true, padding: 24, animate: false },
  });
  if (cy.zoom() > 1) {
    cy.zoom(1);
    cy.center();
  }
  cy.on("mouseover", "node", function (event) {
    event.target.addClass("hover");
    event.target.connectedEdges().addClass("hover");
    host.style.cursor = event.target.data("href") ? "pointer" : "default";
  });
  cy.on("mouseout", "node", function (event) {
    event.target.removeClass("hover");
    event.target.connectedEdges().removeClass("hover");
    host.style.cursor = "default";
  });
  cy.on("tap", "node", function (event) {
    var href = event.target.data("href");
    if (href) {
      window.location.assign(href);
    }
  });
  host.setAttribute("data-ready", "yes");
  window.calcinosisGraph = cy;
});
