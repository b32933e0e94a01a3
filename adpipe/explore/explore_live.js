// The live explorer's aggregates (docs/explore.md, "In the service"): the payload holds no row, and each visual's
// groups are asked of GET /api/v1/explore/<dataset>, which answers them with facts.aggregate. explore.js, loaded
// after this file, asks for the cards at every change and for a chart only when it is in view (a chart out of view
// asks when it scrolls into view): at 10^7 facts each grouped request is a scan of the served rows.
window.exploreServed = function (explorer) {
  "use strict";
  const { data, dims, cross, toDay, toIso } = explorer;
  const live = data.api;

  // The values of dimension k a request keeps (its slicer's, and its clicked bar unless k is `except`);
  // null keeps every value, [] none.
  function keptValues(state, k, except) {
    let values = state.keep[k] ? dims[k].values.filter((_, c) => state.keep[k][c]) : null;
    if (cross.has(k) && k !== except) {
      const clicked = dims[k].values[cross.get(k)];
      values = values === null || values.includes(clicked) ? [clicked] : [];
    }
    return values;
  }

  // One aggregate: its groups as {key, rows, kpis}; [] without asking when nothing can match. A chart asks for its
  // KPI only (the cards for all): the server then sums only what that KPI uses.
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

  const span = (state) => (state.range ? [state.range.lo, state.range.hi] : [null, null]);
  const one = (groups) => groups[0] || { rows: 0, kpis: {} };

  // The cards: the kept facts' group and, with a date range, the previous period's.
  async function cards(state) {
    const r = state.range;
    const [current, previous] = await Promise.all([
      ask(state, ...span(state), -1, null, null).then(one),
      r ? ask(state, r.prevLo, r.prevHi, -1, null, null).then(one) : null,
    ]);
    return { current, previous };
  }

  // The trend's groups by day or week (keyed by day number).
  async function trend(state, kpi, by) {
    const trendGroups = await ask(state, ...span(state), -1, by, kpi);
    const out = new Map();
    trendGroups.forEach((g) => g.key[by] && out.set(toDay(g.key[by]), g));
    return out;
  }

  // Dimension k's bars (keyed by value code), without its own clicked bar.
  async function bars(state, kpi, k) {
    const d = dims[k];
    const codes = new Map(d.values.map((v, c) => [v, c]));
    const barGroups = await ask(state, ...span(state), k, d.name, kpi);
    return new Map(barGroups.filter((g) => codes.has(g.key[d.name])).map((g) => [codes.get(g.key[d.name]), g]));
  }

  return { cards, trend, bars };
};
