// Draw every plotly figure of a page of the static book (see book/_ext/plotly_offline.py).
// Loaded with `defer` right after _static/plotly.min.js, so the DOM is parsed
// and window.Plotly exists when this runs.  No network access: the figure
// JSON sits in the page, plotly.js in _static/.
(function () {
  "use strict";

  function draw(spec) {
    var div = document.getElementById(spec.getAttribute("data-for"));
    if (!div || div.getAttribute("data-drawn")) { return; }
    var fig = JSON.parse(spec.textContent);
    var config = Object.assign({ responsive: true, displaylogo: false }, fig.config || {});
    div.setAttribute("data-drawn", "pending");
    window.Plotly.newPlot(div, {
      data: fig.data || [],
      layout: fig.layout || {},
      frames: fig.frames || [],
      config: config
    }).then(function () {
      div.setAttribute("data-drawn", "yes");
    });
    // A figure inside a closed dropdown (an exercise solution) is drawn at
    // zero width; redraw it at its real size once it becomes visible.
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (div.offsetWidth > 0 && div.getAttribute("data-drawn") === "yes") {
          window.Plotly.Plots.resize(div);
        }
      }).observe(div);
    }
  }

  function drawAll() {
    if (!window.Plotly) {
      console.error("paxos-plotly: plotly.min.js did not load");
      return;
    }
    var specs = document.querySelectorAll("script.paxos-plotly-spec");
    for (var i = 0; i < specs.length; i++) { draw(specs[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
