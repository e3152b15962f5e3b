// The star page's plots: one plotly chart per colour, every run of the star a trace.
// The data is the page's own JSON (the <script id="star-data"> block, the same answer as
// /api/v1/stars/<picid>); plotly.js is served by the explorer itself.
(function () {
  "use strict";
  var source = document.getElementById("star-data");
  if (!source || typeof Plotly === "undefined") { return; }
  var star = JSON.parse(source.textContent);
  var palette = ["#1f5fbf", "#c0392b", "#1e8449", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50"];

  function trace(lc, colour, index, kind) {
    var p = lc.points, xs = [], ys = [], errs = [], custom = [];
    for (var i = 0; i < p.time.length; i++) {
      var y = p[colour][i];
      if (y === null || p.time[i] === null) { continue; }
      var outlier = p[colour + "_outlier"][i], flagged = p.flagged[i];
      var wanted = kind === "flagged" ? flagged : (kind === "outlier" ? outlier && !flagged : !outlier && !flagged);
      if (!wanted) { continue; }
      xs.push(p.time[i]); ys.push(y); errs.push(p[colour + "_err"][i]);
      custom.push([p.time_s[i], lc.run_id]);
    }
    var label = (lc.unit_id || "?") + " · " + (lc.sequence_id || lc.run_id);
    var colourOf = palette[index % palette.length];
    var t = {
      x: xs, y: ys, customdata: custom, type: "scatter", mode: "markers",
      name: kind === "points" ? label : label + " (" + kind + ")",
      legendgroup: lc.lcid, showlegend: kind === "points",
      hovertemplate: "%{x}<br>flux %{y:.4f}<extra>" + label + "</extra>",
      marker: { color: colourOf, size: 5 }
    };
    if (kind === "points") {
      t.error_y = { type: "data", array: errs, visible: true, thickness: 0.6, width: 0, color: colourOf + "66" };
    } else if (kind === "outlier") {
      t.marker = { color: colourOf, size: 7, symbol: "x-thin-open", line: { width: 1.5 } };
    } else {
      // open symbols are drawn in the marker's colour: a red ring with a dot at the value
      t.marker = { color: "#a3261b", size: 11, symbol: "circle-open-dot", line: { width: 2 } };
    }
    return t;
  }

  var flagForm = document.getElementById("flag-points");

  function selected(event) {
    if (!flagForm) { return; }
    var runs = {}, times = [];
    ((event && event.points) || []).forEach(function (point) {
      if (!point.customdata) { return; }
      runs[point.customdata[1]] = true;
      times.push(point.customdata[0]);
    });
    var names = Object.keys(runs), note = document.getElementById("flag-selection");
    var button = flagForm.querySelector("button");
    if (names.length === 1 && times.length) {
      flagForm.run_id.value = names[0];
      flagForm.times.value = times.join(",");
      note.textContent = times.length + " point(s) of run " + names[0] + " selected.";
      button.disabled = false;
    } else {
      flagForm.run_id.value = "";
      flagForm.times.value = "";
      note.textContent = names.length > 1 ? "Select points of one run at a time." : "No points selected.";
      button.disabled = true;
    }
  }

  document.querySelectorAll(".plot[data-colour]").forEach(function (element) {
    var colour = element.getAttribute("data-colour");
    var traces = [];
    star.lightcurves.forEach(function (lc, index) {
      if (!lc.points || !lc.points[colour]) { return; }
      ["points", "outlier", "flagged"].forEach(function (kind) {
        var t = trace(lc, colour, index, kind);
        if (t.x.length) { traces.push(t); }
      });
    });
    var layout = {
      height: 320, margin: { l: 60, r: 20, t: 30, b: 40 },
      title: { text: "colour " + colour, font: { size: 14 } },
      xaxis: { title: { text: "time (UTC)" }, type: "date" },
      yaxis: { title: { text: "normalised flux" } },
      dragmode: flagForm ? "select" : "zoom", legend: { orientation: "h", y: -0.25 }
    };
    Plotly.newPlot(element, traces, layout, { responsive: true, displaylogo: false });
    element.on("plotly_selected", selected);
    element.on("plotly_deselect", function () { selected(null); });
    element.dispatchEvent(new CustomEvent("star-plot-ready", { bubbles: true }));
  });
})();
