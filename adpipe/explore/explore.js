// The Explore page's filtering and aggregation (docs/explore.md). Each [data-explorer] container is one explorer
// (a page may hold several): every query is scoped to it, and its filters sit in the URL fragment under its
// data-fragment-prefix. The facts come column by column from its [data-explore-data] payload; every KPI is
// scale * sum(numerator) / sum(denominator) over the kept rows, as in adpipe/explore/facts.py. One pass over the
// rows fills the cards, the previous period, the trend and the bars.
window.exploreTimings = {};
document.querySelectorAll("[data-explorer]").forEach((root) => {
  "use strict";
  const data = JSON.parse(root.querySelector("[data-explore-data]").textContent);
  const n = data.rows;
  const dims = data.dimensions.map((d) => ({ ...d, codes: Int32Array.from(d.codes) }));
  const measureNames = Object.keys(data.measures);
  const measures = measureNames.map((m) => Float64Array.from(data.measures[m]));
  const M = measureNames.length;
  const days = data.date ? Int32Array.from(data.date.days) : null;
  const distinct = data.distinct ? Int32Array.from(data.distinct.codes) : null;
  const NO_DAY = data.date ? data.date.missing : 0;
  const DAY = 86400000;
  const cross = new Map(); // dimension index -> value code clicked on its bars
  const slicers = Array.from(root.querySelectorAll("[data-slicer]"));
  const chartKpi = root.querySelector("[data-chart-kpi]");
  const grain = root.querySelector("[data-trend-grain]");
  const prefix = root.dataset.fragmentPrefix || ""; // this explorer's keys in the URL fragment
  const PLOT = { displaylogo: false, responsive: true, displayModeBar: false };
  const TOP = 15; // bars per dimension: its values with the most rows (all, in order, when it has an order)

  const toDay = (iso) => (iso ? Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / DAY : null);
  const toIso = (day) => new Date(day * DAY).toISOString().slice(0, 10);
  const slicer = (name) => root.querySelector(`[data-slicer="${CSS.escape(name)}"]`);

  // A group of totals: the measures' sums and the distinct keys seen (a Set only where a KPI needs it).
  function totals(withDistinct) {
    return { sums: new Float64Array(M), seen: withDistinct && distinct ? new Set() : null };
  }
  function add(t, i) {
    for (let m = 0; m < M; m++) t.sums[m] += measures[m][i];
    if (t.seen) t.seen.add(distinct[i]);
  }
  function total(t, name) {
    if (data.distinct && name === data.distinct.name) return t.seen.size;
    return t.sums[measureNames.indexOf(name)];
  }
  // The KPI of a group: null when no row matched or its denominator is 0.
  function kpiValue(t, kpi) {
    if (t.sums[0] === 0) return null; // measure 0 is "rows"
    const num = total(t, kpi.numerator);
    if (kpi.denominator === null) return num * kpi.scale;
    const den = total(t, kpi.denominator);
    return den === 0 ? null : (kpi.scale * num) / den;
  }
  const needsDistinct = (kpi) => data.distinct !== null && [kpi.numerator, kpi.denominator].includes(data.distinct.name);

  function readState() {
    const keep = dims.map((d) => {
      const chosen = Array.from(slicer(d.name).selectedOptions, (o) => o.value);
      if (chosen.length === 0) return null;
      const mask = new Uint8Array(d.values.length);
      chosen.forEach((v) => (mask[d.values.indexOf(v)] = 1));
      return mask;
    });
    let range = null;
    if (days) {
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

  // One pass: the kept rows' totals, the previous period's, the trend's buckets, each dimension's bars
  // (a dimension's bars ignore its own cross-filter, so the clicked bar's siblings stay visible).
  function compute(state, kpi) {
    const wantDistinct = needsDistinct(kpi);
    const current = totals(true);
    const previous = totals(true);
    const active = [];
    state.keep.forEach((mask, k) => mask && active.push(k));
    const crossed = Array.from(cross.keys());
    const bars = dims.map(() => new Map());
    const trend = new Map();
    const week = grain && grain.value === "week";
    const kept = [];
    const r = state.range;
    rows: for (let i = 0; i < n; i++) {
      let inCurrent = true;
      let inPrevious = false;
      if (r) {
        const d = days[i];
        inCurrent = d >= r.lo && d <= r.hi;
        inPrevious = d >= r.prevLo && d <= r.prevHi;
        if (!inCurrent && !inPrevious) continue;
      }
      for (const k of active) if (!state.keep[k][dims[k].codes[i]]) continue rows;
      let missed = -1;
      for (const k of crossed) {
        if (dims[k].codes[i] !== cross.get(k)) {
          if (missed >= 0) continue rows;
          missed = k;
        }
      }
      if (missed < 0 && inPrevious) add(previous, i);
      if (!inCurrent) continue;
      for (let k = 0; k < dims.length; k++) {
        if (missed >= 0 && missed !== k) continue;
        const code = dims[k].codes[i];
        let t = bars[k].get(code);
        if (!t) bars[k].set(code, (t = totals(wantDistinct)));
        add(t, i);
      }
      if (missed >= 0) continue;
      add(current, i);
      kept.push(i);
      if (days && days[i] !== NO_DAY) {
        const bucket = week ? days[i] - ((days[i] + 3) % 7) : days[i]; // weeks start on Monday (day 0 is a Thursday)
        let t = trend.get(bucket);
        if (!t) trend.set(bucket, (t = totals(wantDistinct)));
        add(t, i);
      }
    }
    return { current, previous: r ? previous : null, bars, trend, kept };
  }

  function format(value, kpi) {
    if (kpi.unit === "%") return (100 * value).toLocaleString(undefined, { maximumFractionDigits: 2 }) + " %";
    const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 4;
    const text = value.toLocaleString(undefined, { maximumFractionDigits: digits });
    return kpi.unit === "$" ? "$" + text : kpi.unit === "s" ? text + " s" : text;
  }

  function drawCards(result) {
    const empty = result.current.sums[0] === 0;
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
  // a filter change costs the charts one can see (each Plotly.react is most of a redraw's time).
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
    pending.delete(div);
    delete div.dataset.stale;
    Plotly.react(div, figure.traces, figure.layout, PLOT);
    window.exploreTimings.drawn = performance.now();
    if (figure.once && !div.dataset.listening) {
      div.dataset.listening = "1";
      figure.once();
    }
  }
  function draw(div, traces, chartLayout, once) {
    if (!div.dataset.watched) {
      div.dataset.watched = "1";
      watcher.observe(div);
    }
    const figure = { traces, layout: chartLayout, once };
    if (inView.has(div)) plot(div, figure);
    else {
      pending.set(div, figure);
      div.dataset.stale = "1";
    }
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
    const buckets = Array.from(result.trend.keys()).sort((a, b) => a - b);
    const y = buckets.map((b) => kpiValue(result.trend.get(b), kpi));
    const per = grain.value === "week" ? "week (starting Monday)" : "day";
    const mode = buckets.length > 120 ? "lines" : "lines+markers"; // thousands of SVG markers cost the redraw
    const trace = { x: buckets.map(toIso), y, type: "scatter", mode, marker: { size: 4 } };
    draw(div, [trace], layout(div, `${kpi.label} by ${per}`, per));
  }

  function drawBars(result, kpi) {
    dims.forEach((d, k) => {
      const div = root.querySelector(`[data-bars="${CSS.escape(d.name)}"]`);
      let codes = Array.from(result.bars[k].keys());
      if (d.ordered) codes.sort((a, b) => a - b);
      else codes.sort((a, b) => result.bars[k].get(b).sums[0] - result.bars[k].get(a).sums[0] || a - b);
      const shown = d.ordered ? codes : codes.slice(0, TOP); // an ordered dimension shows every value
      const trace = {
        x: shown.map((c) => d.values[c] || "(empty)"),
        y: shown.map((c) => kpiValue(result.bars[k].get(c), kpi)),
        customdata: shown,
        type: "bar",
        marker: { color: shown.map((c) => (cross.get(k) === c ? "#ff7f0e" : "#1f77b4")) },
      };
      const more = shown.length < codes.length ? ` (the ${TOP} with most rows of ${codes.length})` : "";
      const chart = layout(div, `${kpi.label} by ${d.label}${more}`, d.label);
      chart.xaxis.type = "category";
      draw(div, [trace], chart, () => div.on("plotly_click", (event) => toggleCross(k, event.points[0].customdata)));
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

  // The budget plan of the kept segments (a segment is kept when one of its rows is): their response curves and
  // plan rows, largest planned change first; the first PLAN_CURVES curves are drawn.
  const plan = data.plan;
  const PLAN_CURVES = 6;
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const segmentOf = plan ? planSegments() : null;
  function planSegments() {
    const index = new Map(plan.segments.map((s, j) => [s.codes.join(","), j]));
    const of = new Int32Array(n);
    for (let i = 0; i < n; i++) of[i] = index.get(plan.dims.map((k) => dims[k].codes[i]).join(",")) ?? -1;
    return of;
  }
  const money = (v) => v.toLocaleString(undefined, { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 2 });
  const change = (s) => (s.today > 0 ? s.planned / s.today - 1 : Infinity);
  function cells(row, texts) {
    texts.forEach((text) => row.appendChild(document.createElement("td")).append(text));
    return row;
  }
  function drawPlan(result) {
    const seen = new Set();
    for (const i of result.kept) if (segmentOf[i] >= 0) seen.add(segmentOf[i]);
    const kept = Array.from(seen, (j) => plan.segments[j]).sort((a, b) => change(b) - change(a) || (a.name < b.name ? -1 : 1));
    root.querySelector("[data-plan-empty]").hidden = kept.length > 0;
    root.querySelector("[data-plan-rows]").replaceChildren(
      ...kept.map((s) => {
        const row = cells(document.createElement("tr"), [s.name, money(s.today), money(s.planned),
          s.today > 0 ? `${change(s) >= 0 ? "+" : ""}${(100 * change(s)).toFixed(0)} %` : "new",
          `${money(s.value)} (${money(s.low)}–${money(s.high)})`, s.marginal.toFixed(2)]);
        row.dataset.segment = s.name;
        row.dataset.planned = String(s.planned);
        return row;
      })
    );
    const sum = (key) => kept.reduce((total, s) => total + s[key], 0);
    const total = kept.length ? [cells(document.createElement("tr"), [`${kept.length} segment(s)`, money(sum("today")),
      money(sum("planned")), "", money(sum("value")), ""])] : [];
    root.querySelector("[data-plan-total]").replaceChildren(...total);
    const shown = kept.slice(0, PLAN_CURVES);
    const traces = shown.flatMap((s, j) => {
      const colour = COLOURS[j % COLOURS.length];
      return [
        { x: s.spend, y: s.curve, name: s.name, legendgroup: s.name, mode: "lines", line: { color: colour },
          hovertemplate: `spend %{x:,.0f}: value %{y:,.0f}<extra>${s.name}</extra>` },
        { x: [s.today], y: [s.valueToday], legendgroup: s.name, showlegend: false, mode: "markers",
          marker: { color: colour, size: 8 }, hovertemplate: `today: %{x:,.0f}<extra>${s.name}</extra>` },
        { x: [s.planned], y: [s.value], legendgroup: s.name, showlegend: false, mode: "markers",
          marker: { color: colour, size: 10, symbol: "diamond" }, hovertemplate: `planned: %{x:,.0f}<extra>${s.name}</extra>` },
      ];
    });
    const more = kept.length > PLAN_CURVES ? `, the first ${PLAN_CURVES} of ${kept.length}` : "";
    const div = root.querySelector("[data-plan-curves]");
    const chart = layout(div, `Expected value against spend (dot: today, diamond: planned${more})`, "total spend of the segment (log)");
    chart.xaxis.type = "log";
    chart.yaxis = { title: { text: "expected value (log)" }, type: "log" };
    chart.legend = { font: { size: 10 } };
    draw(div, traces, chart);
  }

  let last = null;
  function render() {
    const started = performance.now();
    const kpi = data.kpis.find((k) => k.name === chartKpi.value);
    last = compute(readState(), kpi);
    const computed = performance.now();
    drawCards(last);
    drawChips();
    writeFragment();
    drawTrend(last, kpi);
    drawBars(last, kpi);
    if (plan) drawPlan(last);
    const done = performance.now();
    Object.assign(window.exploreTimings, { compute: computed - started, draw: done - computed, render: done - started });
  }

  function csvField(value) {
    const text = String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  // The kept rows (the embedded rows: facts, or cube rows summing several) as CSV.
  function download() {
    const header = [...dims.map((d) => d.name), ...(days ? ["date"] : []), ...(distinct ? [data.distinct.name] : [])];
    const lines = [[...header, ...measureNames].map(csvField).join(",")];
    for (const i of last.kept) {
      const row = dims.map((d) => d.values[d.codes[i]]);
      if (days) row.push(days[i] === NO_DAY ? "" : toIso(days[i]));
      if (distinct) row.push(data.distinct.values[distinct[i]]);
      measures.forEach((m) => row.push(m[i]));
      lines.push(row.map(csvField).join(","));
    }
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
  root.querySelector('[data-action="download"]').addEventListener("click", download);
  window.addEventListener("hashchange", () => {
    if (!isState(location.hash)) return; // an anchor: the filters stay
    readFragment();
    render();
  });
  readFragment();
  render();
  root.dataset.ready = "1";
});
window.exploreTimings.ready = performance.now();
document.body.dataset.ready = "1";
