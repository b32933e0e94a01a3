// The Explore page's filtering and aggregation (docs/explore.md). Each [data-explorer] container is one explorer
// (a page may hold several): every query is scoped to it, and its filters sit in the URL fragment under its
// data-fragment-prefix. Its data come from one of two sources. Offline, the facts come column by column from its
// [data-explore-data] payload and one pass over the rows fills the cards, the previous period, the trend and the
// bars; every KPI is scale * sum(numerator) / sum(denominator) over the kept rows, as in adpipe/explore/facts.py.
// Live (the payload's `api`: the service's /explore page), the payload holds no row and each visual's aggregates
// are asked of GET /api/v1/explore/<dataset>, which answers them with facts.aggregate; the drawing is the same.
// The plan panel is explore_plan.js, which the page loads after this file.
window.exploreTimings = {};
function startExplorer(root) {
  "use strict";
  const data = JSON.parse(root.querySelector("[data-explore-data]").textContent);
  const live = data.api || null;
  const n = live ? 0 : data.rows;
  const dims = data.dimensions.map((d) => ({ ...d, codes: live ? null : Int32Array.from(d.codes) }));
  const measureNames = live ? live.measures : Object.keys(data.measures);
  const measures = live ? [] : measureNames.map((m) => Float64Array.from(data.measures[m]));
  const M = measureNames.length;
  const hasDate = data.date !== null;
  const days = hasDate && !live ? Int32Array.from(data.date.days) : null;
  const distinct = data.distinct ? Int32Array.from(data.distinct.codes) : null;
  const NO_DAY = days ? data.date.missing : 0;
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
  // A group's rows; a served group ({rows, kpis}) carries the server's KPIs.
  const rowsOf = (t) => (t.kpis ? t.rows : t.sums[0]); // measure 0 is "rows"
  // The KPI of a group: null when no row matched or its denominator is 0.
  function kpiValue(t, kpi) {
    if (t.kpis) return t.kpis[kpi.name] ?? null;
    if (t.sums[0] === 0) return null;
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

  // Live: the values of dimension k a request keeps (its slicer's, and its clicked bar unless k is `except`);
  // null keeps every value, [] none.
  function keptValues(state, k, except) {
    let values = state.keep[k] ? dims[k].values.filter((_, c) => state.keep[k][c]) : null;
    if (cross.has(k) && k !== except) {
      const clicked = dims[k].values[cross.get(k)];
      values = values === null || values.includes(clicked) ? [clicked] : [];
    }
    return values;
  }

  // One aggregate from the service: its groups as {key, rows, kpis}; [] without asking when nothing can match.
  // A chart asks for its KPI only (the cards for all): the server then sums only what that KPI uses.
  async function ask(state, lo, hi, except, by, kpi) {
    const params = new URLSearchParams();
    for (let k = 0; k < dims.length; k++) {
      const values = keptValues(state, k, except);
      if (values === null) continue;
      if (values.length === 0) return [];
      values.forEach((v) => params.append(`where.${dims[k].name}`, v));
    }
    if (lo !== null && hi !== null && lo > hi) return []; // an inverted range (From after To) keeps nothing
    if (lo !== null) params.set("date_from", toIso(lo));
    if (hi !== null) params.set("date_to", toIso(hi));
    if (by) params.set("group_by", by);
    if (kpi) params.set("kpi", kpi.name);
    const answer = await fetch(`${live.url}?${params}`, { headers: { Accept: "application/json" } });
    const body = await answer.json();
    if (answer.status === 401) throw new Error("The data need an API key: enter it on /key, then come back.");
    if (!answer.ok) throw new Error(`${answer.status}: ${JSON.stringify(body.detail)}`);
    return body.groups.map((g) => ({ key: g.key, rows: g.totals.rows, kpis: g.kpis }));
  }

  // Live: what compute gives, asked of the service (every visual's request at once).
  async function computeServed(state, kpi) {
    const r = state.range;
    const lo = r ? r.lo : null;
    const hi = r ? r.hi : null;
    const one = (groups) => groups[0] || { rows: 0, kpis: {} };
    const by = grain && grain.value === "week" ? "week" : "date";
    const [current, previous, trendGroups, ...barGroups] = await Promise.all([
      ask(state, lo, hi, -1, null, null).then(one),
      r ? ask(state, r.prevLo, r.prevHi, -1, null, null).then(one) : null,
      hasDate ? ask(state, lo, hi, -1, by, kpi) : [],
      ...dims.map((d, k) => ask(state, lo, hi, k, d.name, kpi)),
    ]);
    const trend = new Map();
    trendGroups.forEach((g) => g.key[by] && trend.set(toDay(g.key[by]), g));
    const bars = dims.map((d, k) => {
      const codes = new Map(d.values.map((v, c) => [v, c]));
      return new Map(barGroups[k].filter((g) => codes.has(g.key[d.name])).map((g) => [codes.get(g.key[d.name]), g]));
    });
    return { current, previous, bars, trend, kept: [] };
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
    if (!window.Plotly) return void pending.set(div, figure); // the report runs plotly.js after its load event
    pending.delete(div);
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
      else codes.sort((a, b) => rowsOf(result.bars[k].get(b)) - rowsOf(result.bars[k].get(a)) || a - b);
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

  // The budget plan of the kept segments (explore_plan.js), when the payload carries one.
  const drawPlan = data.plan ? window.explorePlanPanel({ root, plan: data.plan, dims, rows: n, layout, draw }) : null;

  let last = null;
  let asked = 0; // live: the latest change's number; an earlier change's late answer is dropped
  const failure = root.querySelector("[data-live-error]");
  function render() {
    const started = performance.now();
    const kpi = data.kpis.find((k) => k.name === chartKpi.value);
    if (!live) return show(compute(readState(), kpi), kpi, started);
    const mine = ++asked;
    document.body.dataset.busy = "1";
    computeServed(readState(), kpi)
      .then((result) => mine === asked && show(result, kpi, started))
      .catch((error) => {
        if (mine !== asked) return;
        failure.textContent = error.message;
        failure.hidden = false;
      })
      .finally(() => mine === asked && delete document.body.dataset.busy);
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
