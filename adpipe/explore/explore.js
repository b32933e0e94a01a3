// The Explore page (docs/explore.md). Each [data-explorer] container is one explorer (a page may hold several):
// every query is scoped to it, and its filters sit in the URL fragment under its data-fragment-prefix. Its data
// come from one of two sources. Offline, the facts are its [data-explore-data] payload, aggregated in the browser
// by explore_compute.js (one pass over the rows per change). Live (the payload's `api`: the service's /explore
// page), the payload holds no row and explore_live.js asks GET /api/v1/explore/<dataset> for the cards at every
// change and for each chart when it is in view. This file reads the controls, draws the cards and charts (the
// same drawing for both sources) and keeps the URL fragment; the plan panel is explore_plan.js. The page loads
// explore_compute.js and explore_live.js before this file, explore_plan.js after it.
window.exploreTimings = {};
function startExplorer(root) {
  "use strict";
  const data = JSON.parse(root.querySelector("[data-explore-data]").textContent);
  const live = data.api || null;
  const DAY = 86400000;
  const toDay = (iso) => (iso ? Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / DAY : null);
  const toIso = (day) => new Date(day * DAY).toISOString().slice(0, 10);
  const cross = new Map(); // dimension index -> value code clicked on its bars
  const facts = live ? null : window.exploreFacts(data);
  const dims = live ? data.dimensions : facts.dims;
  const served = live ? window.exploreServed({ data, dims, cross, toDay, toIso }) : null;
  const hasDate = data.date !== null;
  const slicers = Array.from(root.querySelectorAll("[data-slicer]"));
  const chartKpi = root.querySelector("[data-chart-kpi]");
  const grain = root.querySelector("[data-trend-grain]");
  const prefix = root.dataset.fragmentPrefix || ""; // this explorer's keys in the URL fragment
  const PLOT = { displaylogo: false, responsive: true, displayModeBar: false };
  const TOP = 15; // bars per dimension: its values with the most rows (all, in order, when it has an order)
  const slicer = (name) => root.querySelector(`[data-slicer="${CSS.escape(name)}"]`);
  const week = () => Boolean(grain) && grain.value === "week";

  // A group's rows and KPI (null when no row matched or its denominator is 0); a served group ({rows, kpis})
  // carries the server's KPIs, an offline one its totals (explore_compute.js).
  const rowsOf = (t) => (t.kpis ? t.rows : t.sums[0]);
  function kpiValue(t, kpi) {
    if (t.kpis) return t.kpis[kpi.name] ?? null;
    if (t.sums[0] === 0) return null;
    const num = facts.total(t, kpi.numerator);
    if (kpi.denominator === null) return num * kpi.scale;
    const den = facts.total(t, kpi.denominator);
    return den === 0 ? null : (kpi.scale * num) / den;
  }

  function readState() {
    const keep = dims.map((d) => {
      const chosen = Array.from(slicer(d.name).selectedOptions, (o) => o.value);
      if (chosen.length === 0) return null;
      const mask = new Uint8Array(d.values.length);
      chosen.forEach((v) => (mask[d.values.indexOf(v)] = 1));
      return mask;
    });
    let range = null;
    if (hasDate) {
      const from = toDay(slicer("date-from").value);
      const to = toDay(slicer("date-to").value);
      if (from !== null || to !== null) {
        const lo = from ?? data.date.min;
        const hi = to ?? data.date.max;
        range = { lo, hi, prevLo: lo - (hi - lo + 1), prevHi: lo - 1 };
      }
    }
    return { keep, range };
  }

  function format(value, kpi) {
    if (kpi.unit === "%") return (100 * value).toLocaleString(undefined, { maximumFractionDigits: 2 }) + " %";
    const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 4;
    const text = value.toLocaleString(undefined, { maximumFractionDigits: digits });
    return kpi.unit === "$" ? "$" + text : kpi.unit === "s" ? text + " s" : text;
  }

  function drawCards(result) {
    const empty = rowsOf(result.current) === 0;
    data.kpis.forEach((kpi) => {
      const card = root.querySelector(`[data-kpi="${kpi.name}"]`);
      const value = kpiValue(result.current, kpi);
      card.dataset.value = value === null ? "" : String(value);
      card.querySelector(".value").textContent = empty ? "no rows" : value === null ? "—" : format(value, kpi);
      card.querySelector(".value").title = value === null && !empty ? `no ${kpi.denominator}` : "";
      const line = card.querySelector(".previous");
      line.textContent = "";
      card.dataset.previous = "";
      if (!result.previous) return;
      const before = kpiValue(result.previous, kpi);
      card.dataset.previous = before === null ? "" : String(before);
      if (before === null) return void (line.textContent = "previous period: no value");
      line.textContent = `previous period: ${format(before, kpi)}`;
      if (value !== null && before !== 0) {
        const change = (value - before) / Math.abs(before);
        const span = document.createElement("span");
        if (kpi.better && change !== 0) span.className = (change > 0) === (kpi.better === "higher") ? "better" : "worse";
        span.textContent = ` (${change >= 0 ? "+" : ""}${(100 * change).toFixed(1)} %)`;
        line.appendChild(span);
      }
    });
  }

  // A chart in view is drawn at once; one out of view is marked stale and drawn when it scrolls into view, so
  // a filter change costs the charts one can see (each Plotly.react is most of a redraw's time). Live, a chart's
  // figure is `later`: asked of the service only when the chart is (or comes) into view.
  const pending = new Map(); // chart div -> its latest figure, not drawn yet
  const inView = new Set();
  const watcher = new IntersectionObserver((entries) => {
    entries.forEach((entry) => {
      if (!entry.isIntersecting) return void inView.delete(entry.target);
      inView.add(entry.target);
      if (pending.has(entry.target)) plot(entry.target, pending.get(entry.target));
    });
  });
  function plot(div, figure) {
    if (!window.Plotly) return void pending.set(div, figure); // the report runs plotly.js after its load event
    pending.delete(div);
    if (figure.later) return void track(figure.later().then((drawn) => figure.change === asked && plot(div, drawn)));
    delete div.dataset.stale;
    Plotly.react(div, figure.traces, figure.layout, PLOT);
    window.exploreTimings.drawn = performance.now();
    if (figure.once && !div.dataset.listening) {
      div.dataset.listening = "1";
      figure.once();
    }
  }
  document.addEventListener("plotly-ready", () => {
    pending.forEach((figure, div) => inView.has(div) && plot(div, figure));
  });
  function draw(div, figure) {
    if (!div.dataset.watched) {
      div.dataset.watched = "1";
      watcher.observe(div);
    }
    if (inView.has(div)) plot(div, figure);
    else {
      pending.set(div, figure);
      div.dataset.stale = "1";
    }
  }
  // A chart's figure: made from the computed groups, or (live, `groups` null) from the service's when in view.
  function drawFrom(div, groups, ask, figureOf, change) {
    draw(div, groups ? figureOf(groups) : { later: () => ask().then(figureOf), change });
  }

  // One layout object per chart, changed only when its title does: Plotly.react then redraws the data alone.
  const layouts = new Map();
  function layout(div, title, xTitle) {
    const known = layouts.get(div);
    if (known && known.title.text === title) return known;
    const fresh = {
      title: { text: title, x: 0.01, font: { size: 14 } },
      margin: { l: 60, r: 20, t: 40, b: 70 },
      xaxis: { title: { text: xTitle }, automargin: true },
      template: "plotly_white",
      height: 300,
    };
    layouts.set(div, fresh);
    return fresh;
  }

  function drawTrend(result, kpi) {
    const div = root.querySelector("[data-trend]");
    if (!div) return;
    const per = week() ? "week (starting Monday)" : "day";
    const by = week() ? "week" : "date";
    drawFrom(div, result.trend, () => served.trend(result.state, kpi, by), (trend) => {
      const buckets = Array.from(trend.keys()).sort((a, b) => a - b);
      const y = buckets.map((b) => kpiValue(trend.get(b), kpi));
      const mode = buckets.length > 120 ? "lines" : "lines+markers"; // thousands of SVG markers cost the redraw
      const trace = { x: buckets.map(toIso), y, type: "scatter", mode, marker: { size: 4 } };
      return { traces: [trace], layout: layout(div, `${kpi.label} by ${per}`, per) };
    }, result.change);
  }

  function drawBars(result, kpi) {
    dims.forEach((d, k) => {
      const div = root.querySelector(`[data-bars="${CSS.escape(d.name)}"]`);
      const clicked = cross.get(k);
      drawFrom(div, result.bars && result.bars[k], () => served.bars(result.state, kpi, k), (bars) => {
        let codes = Array.from(bars.keys());
        if (d.ordered) codes.sort((a, b) => a - b);
        else codes.sort((a, b) => rowsOf(bars.get(b)) - rowsOf(bars.get(a)) || a - b);
        const shown = d.ordered ? codes : codes.slice(0, TOP); // an ordered dimension shows every value
        const trace = {
          x: shown.map((c) => d.values[c] || "(empty)"),
          y: shown.map((c) => kpiValue(bars.get(c), kpi)),
          customdata: shown,
          type: "bar",
          marker: { color: shown.map((c) => (clicked === c ? "#ff7f0e" : "#1f77b4")) },
        };
        const more = shown.length < codes.length ? ` (the ${TOP} with most rows of ${codes.length})` : "";
        const chart = layout(div, `${kpi.label} by ${d.label}${more}`, d.label);
        chart.xaxis.type = "category";
        const once = () => div.on("plotly_click", (event) => toggleCross(k, event.points[0].customdata));
        return { traces: [trace], layout: chart, once };
      }, result.change);
    });
  }

  function drawChips() {
    const chips = root.querySelector("[data-chips]");
    chips.replaceChildren();
    cross.forEach((code, k) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset.cross = dims[k].name;
      chip.dataset.value = dims[k].values[code];
      chip.textContent = `${dims[k].label}: ${dims[k].values[code] || "(empty)"} `;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", `remove the filter on ${dims[k].label}`);
      remove.addEventListener("click", () => toggleCross(k, code));
      chip.appendChild(remove);
      chips.appendChild(chip);
    });
  }

  function toggleCross(k, code) {
    if (cross.get(k) === code) cross.delete(k);
    else cross.set(k, code);
    render();
  }

  // The fragment: the slicers' names as keys (date-from, date-to, one entry per chosen option), then
  // cross.<dimension> for a clicked bar, each after this explorer's prefix; application/x-www-form-urlencoded,
  // as URLSearchParams writes it. Another explorer's keys (prefixed: they hold a ".") are kept as they are; a
  // bare anchor (#roas, the report's navigation) is no filter state.
  const isState = (hash) => hash.includes("=");
  function writeFragment() {
    const params = new URLSearchParams();
    if (prefix && isState(location.hash))
      new URLSearchParams(location.hash.slice(1)).forEach((v, k) => !k.startsWith(prefix) && k.includes(".") && params.append(k, v));
    slicers.forEach((s) => {
      const key = prefix + s.dataset.slicer;
      if (s.tagName === "SELECT") Array.from(s.selectedOptions, (o) => params.append(key, o.value));
      else if (s.value) params.append(key, s.value);
    });
    cross.forEach((code, k) => params.append(`${prefix}cross.${dims[k].name}`, dims[k].values[code]));
    const hash = params.toString();
    if (location.hash.slice(1) === hash || (!hash && !isState(location.hash))) return;
    history.replaceState(null, "", hash ? `#${hash}` : location.pathname + location.search);
  }

  function readFragment() {
    const params = new URLSearchParams(isState(location.hash) ? location.hash.slice(1) : "");
    slicers.forEach((s) => {
      const chosen = params.getAll(prefix + s.dataset.slicer);
      if (s.tagName === "SELECT") Array.from(s.options).forEach((o) => (o.selected = chosen.includes(o.value)));
      else s.value = chosen[0] || "";
    });
    cross.clear();
    dims.forEach((d, k) => {
      const value = params.get(`${prefix}cross.${d.name}`);
      if (value !== null && d.values.includes(value)) cross.set(k, d.values.indexOf(value));
    });
  }

  function reset() {
    slicers.forEach((s) => (s.tagName === "SELECT" ? Array.from(s.options).forEach((o) => (o.selected = false)) : (s.value = "")));
    cross.clear();
    render();
  }

  // The budget plan of the kept segments (explore_plan.js), when the payload carries one (offline only).
  const drawPlan = data.plan ? window.explorePlanPanel({ root, plan: data.plan, dims, rows: data.rows, layout, draw }) : null;

  let last = null;
  let asked = 0; // live: the latest change's number; an earlier change's late answer is dropped
  let awaited = 0; // live: answers awaited (body[data-busy] while there are)
  const failure = root.querySelector("[data-live-error]");
  // Live: an answer of the latest change awaited; a refused request shows its error.
  function track(promise) {
    const mine = asked;
    awaited++;
    document.body.dataset.busy = "1";
    return promise
      .catch((error) => {
        if (mine !== asked) return;
        failure.textContent = error.message;
        failure.hidden = false;
      })
      .finally(() => --awaited === 0 && delete document.body.dataset.busy);
  }
  function render() {
    const started = performance.now();
    const kpi = data.kpis.find((k) => k.name === chartKpi.value);
    const state = readState();
    if (!live) return show(facts.compute(state, kpi, cross, week()), kpi, started);
    const change = ++asked;
    track(served.cards(state).then((cards) => change === asked && show({ ...cards, state, change, trend: null, bars: null, kept: [] }, kpi, started)));
  }

  function show(result, kpi, started) {
    last = result;
    const computed = performance.now();
    if (failure) failure.hidden = true;
    drawCards(last);
    drawChips();
    writeFragment();
    drawTrend(last, kpi);
    drawBars(last, kpi);
    if (drawPlan) drawPlan(last.kept);
    const done = performance.now();
    Object.assign(window.exploreTimings, { compute: computed - started, draw: done - computed, render: done - started });
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    if (document.querySelector("[data-explorer]:not([data-ready])")) return; // the page is ready with its last explorer
    window.exploreTimings.ready = performance.now();
    document.body.dataset.ready = "1";
  }

  function csvField(value) {
    const text = String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  // The kept rows (the embedded rows: facts, or cube rows summing several) as CSV.
  function download() {
    const lines = facts.csvRows(last.kept, csvField, toIso);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    link.download = `${data.name}-filtered.csv`;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function preset(daysBack) {
    slicer("date-from").value = toIso(data.date.max - daysBack + 1);
    slicer("date-to").value = toIso(data.date.max);
    slicer("date-to").dispatchEvent(new Event("change", { bubbles: true }));
  }

  slicers.forEach((s) => s.addEventListener("change", render));
  chartKpi.addEventListener("change", render);
  if (grain) grain.addEventListener("change", render);
  root.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => preset(+b.dataset.preset)));
  root.querySelector('[data-action="reset"]').addEventListener("click", reset);
  if (!live) root.querySelector('[data-action="download"]').addEventListener("click", download);
  window.addEventListener("hashchange", () => {
    if (!isState(location.hash)) return; // an anchor: the filters stay
    readFragment();
    render();
  });
  readFragment();
  render();
}

// Every explorer starts once the page's scripts have run (explore_plan.js comes after this file).
function startExplorers() {
  document.querySelectorAll("[data-explorer]").forEach(startExplorer);
}
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startExplorers);
else startExplorers();
