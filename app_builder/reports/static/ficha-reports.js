// Ficha reports and monitors in the browser: draws each chart with the ApexCharts that
// starlette-admin serves (no CDN), opens the records behind a clicked bar or slice, and
// keeps monitor pages up to date from the server's events (the page never polls).
(function () {
  "use strict";

  function formatter(format, decimals) {
    return function (value) {
      if (value === null || value === undefined) { return "—"; }
      if (format === "percent") { return (value * 100).toFixed(decimals === null ? 1 : decimals) + " %"; }
      var text = Number(value).toLocaleString(undefined, {maximumFractionDigits: decimals === null ? 2 : decimals});
      return format === "seconds" ? text + " s" : text;
    };
  }

  function draw(element) {
    var config = JSON.parse(document.getElementById(element.dataset.fichaChart).textContent);
    var pie = config.type === "pie";
    var format = formatter(config.format, config.decimals);
    var options = {
      chart: {
        type: config.type, height: config.height || 320, stacked: !!config.stacked,
        toolbar: {show: false}, animations: {enabled: false},
        events: {
          dataPointSelection: function (event, context, opts) {
            var links = config.drill[pie ? 0 : opts.seriesIndex] || [];
            var url = links[opts.dataPointIndex];
            if (url) { window.location.href = url; }
          }
        }
      },
      series: pie ? config.series[0].data : config.series,
      dataLabels: {enabled: false},
      tooltip: {y: {formatter: format}},
      legend: {position: "bottom"},
      responsive: [{breakpoint: 576, options: {chart: {height: 260}, legend: {show: !pie || config.categories.length < 8}}}]
    };
    if (pie) { options.labels = config.categories; }
    else {
      options.xaxis = {categories: config.categories, labels: {hideOverlappingLabels: true, trim: true}};
      options.yaxis = {labels: {formatter: format}};
      options.states = {active: {filter: {type: "darken"}}};
    }
    element.dataset.drawn = "1";
    new window.ApexCharts(element, options).render();
  }

  function monitor(root) {
    var status = root.querySelector("[data-ficha=monitor-status]");
    var source = new EventSource(root.dataset.events);
    source.onmessage = function (event) {
      var data = JSON.parse(event.data);
      Object.keys(data.tiles).forEach(function (name) {
        var tile = root.querySelector('[data-tile="' + name + '"]');
        if (tile) { tile.textContent = data.tiles[name].text; }
      });
      Object.keys(data.lists).forEach(function (name) {
        var body = root.querySelector('[data-list="' + name + '"]');
        if (!body) { return; }
        body.replaceChildren.apply(body, data.lists[name].rows.map(function (row) {
          var tr = document.createElement("tr");
          row.cells.forEach(function (text) {
            var td = document.createElement("td");
            td.textContent = text;
            tr.appendChild(td);
          });
          return tr;
        }));
      });
      root.dataset.version = String(Number(root.dataset.version || "0") + 1);
      if (status) { status.textContent = "Live: updated " + new Date().toLocaleTimeString(); }
    };
    source.onerror = function () {
      if (status) { status.textContent = "Reconnecting…"; }
    };
  }

  function start() {
    document.querySelectorAll("[data-ficha-chart]").forEach(draw);
    document.querySelectorAll("[data-ficha=monitor]").forEach(monitor);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
