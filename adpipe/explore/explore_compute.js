// The offline explorer's aggregation (docs/explore.md): the embedded facts as typed arrays, and one pass over the
// rows per change filling the cards (every measure), the previous period, the trend's buckets and every
// dimension's bars (only the chart KPI's measures: a row adds 2-3 numbers per chart, not every measure). The
// charts' groups sit in flat Float64Arrays indexed by value code (or day), not in Maps of objects: at 10^5 rows
// the pass is a few milliseconds. Every KPI is scale * sum(numerator) / sum(denominator) over the kept rows, as in
// adpipe/explore/facts.py. explore.js, loaded after this file, calls it once per offline explorer.
window.exploreFacts = function (data) {
  "use strict";
  const n = data.rows;
  const dims = data.dimensions.map((d) => ({ ...d, codes: Int32Array.from(d.codes) }));
  const measureNames = Object.keys(data.measures);
  const measures = measureNames.map((m) => Float64Array.from(data.measures[m]));
  const days = data.date ? Int32Array.from(data.date.days) : null;
  const NO_DAY = days ? data.date.missing : 0;
  const distinct = data.distinct ? Int32Array.from(data.distinct.codes) : null;
  const distinctName = data.distinct ? data.distinct.name : null;
  const kept = new Int32Array(n); // the kept rows of the last pass (the CSV download, the plan panel)

  // A group of totals: `names` summed in `sums` (measure 0, "rows", always first), the distinct keys in `seen`.
  const group = (names, sums, seen) => ({ names, sums, seen });
  const rowsOf = (t) => t.sums[0];

  // The chart KPI's measures: rows, its numerator and denominator (the distinct key is counted apart).
  function chartMeasures(kpi) {
    const used = [kpi.numerator, kpi.denominator].filter((name) => name !== null && name !== distinctName);
    return Array.from(new Set(["rows", ...used]), (name) => measureNames.indexOf(name));
  }

  // The groups of a flat array: one per slot whose rows are not 0 (a Map, in slot order); seenOf(slot): its keys.
  function groups(flat, width, names, seenOf, slotKey) {
    const out = new Map();
    for (let s = 0; s * width < flat.length; s++) {
      if (flat[s * width] === 0) continue;
      out.set(slotKey(s), group(names, flat.subarray(s * width, (s + 1) * width), seenOf ? seenOf(s) : null));
    }
    return out;
  }

  // One pass: the kept rows' totals, the previous period's, the trend's buckets and each dimension's bars (a
  // dimension's bars ignore its own cross-filter, so the clicked bar's siblings stay visible).
  // state: {keep: per dimension a Uint8Array mask of kept codes or null, range: {lo, hi, prevLo, prevHi} or null}.
  function compute(state, kpi, cross, week) {
    const M = measures.length;
    const charted = chartMeasures(kpi);
    const C = charted.length;
    const chartMeasure = charted.map((m) => measures[m]);
    const wantDistinct = distinct !== null && [kpi.numerator, kpi.denominator].includes(distinctName);
    const current = new Float64Array(M);
    const previous = new Float64Array(M);
    const seenNow = distinct ? new Set() : null;
    const seenBefore = distinct ? new Set() : null;
    const active = [];
    state.keep.forEach((mask, k) => mask && active.push(k));
    const crossed = Array.from(cross.keys());
    const crossCode = crossed.map((k) => cross.get(k));
    const bars = dims.map((d) => new Float64Array(d.values.length * C));
    const barSeen = dims.map((d) => (wantDistinct ? d.values.map(() => new Set()) : null));
    const first = days ? data.date.min : 0;
    const trend = new Float64Array(days ? (data.date.max - first + 7) * C : 0);
    const trendSeen = wantDistinct && days ? new Map() : null;
    const r = state.range;
    let count = 0;
    rows: for (let i = 0; i < n; i++) {
      let inCurrent = true;
      let inPrevious = false;
      if (r) {
        const d = days[i];
        inCurrent = d >= r.lo && d <= r.hi;
        inPrevious = d >= r.prevLo && d <= r.prevHi;
        if (!inCurrent && !inPrevious) continue;
      }
      for (let a = 0; a < active.length; a++) if (!state.keep[active[a]][dims[active[a]].codes[i]]) continue rows;
      let missed = -1;
      for (let c = 0; c < crossed.length; c++) {
        if (dims[crossed[c]].codes[i] !== crossCode[c]) {
          if (missed >= 0) continue rows;
          missed = crossed[c];
        }
      }
      if (missed < 0 && inPrevious) {
        for (let m = 0; m < M; m++) previous[m] += measures[m][i];
        if (seenBefore) seenBefore.add(distinct[i]);
      }
      if (!inCurrent) continue;
      for (let k = 0; k < dims.length; k++) {
        if (missed >= 0 && missed !== k) continue;
        const code = dims[k].codes[i];
        const at = code * C;
        for (let c = 0; c < C; c++) bars[k][at + c] += chartMeasure[c][i];
        if (wantDistinct) barSeen[k][code].add(distinct[i]);
      }
      if (missed >= 0) continue;
      for (let m = 0; m < M; m++) current[m] += measures[m][i];
      if (seenNow) seenNow.add(distinct[i]);
      kept[count++] = i;
      if (days && days[i] !== NO_DAY) {
        const bucket = week ? days[i] - ((days[i] + 3) % 7) : days[i]; // weeks start on Monday (day 0 a Thursday)
        const slot = bucket - first + 6; // a week's Monday may precede the first day: 6 slots of room
        for (let c = 0; c < C; c++) trend[slot * C + c] += chartMeasure[c][i];
        if (trendSeen) (trendSeen.get(slot) || trendSeen.set(slot, new Set()).get(slot)).add(distinct[i]);
      }
    }
    const chartNames = charted.map((m) => measureNames[m]);
    const barGroups = bars.map((flat, k) => groups(flat, C, chartNames, barSeen[k] && ((code) => barSeen[k][code]), (code) => code));
    const trendGroups = groups(trend, C, chartNames, trendSeen && ((slot) => trendSeen.get(slot)), (slot) => slot + first - 6);
    return {
      current: group(measureNames, current, seenNow),
      previous: r ? group(measureNames, previous, seenBefore) : null,
      bars: barGroups,
      trend: trendGroups,
      kept: kept.subarray(0, count),
    };
  }

  // The total `name` of a group: a measure's sum or the count of distinct keys.
  function total(t, name) {
    if (name === distinctName) return t.seen.size;
    return t.sums[t.names.indexOf(name)];
  }

  // The kept rows (the embedded rows: facts, or cube rows summing several) as CSV lines, header first.
  function csvRows(rows, field, toIso) {
    const header = [...dims.map((d) => d.name), ...(days ? ["date"] : []), ...(distinct ? [distinctName] : [])];
    const lines = [[...header, ...measureNames].map(field).join(",")];
    for (const i of rows) {
      const row = dims.map((d) => d.values[d.codes[i]]);
      if (days) row.push(days[i] === NO_DAY ? "" : toIso(days[i]));
      if (distinct) row.push(data.distinct.values[distinct[i]]);
      measures.forEach((m) => row.push(m[i]));
      lines.push(row.map(field).join(","));
    }
    return lines;
  }

  return { dims, compute, total, rowsOf, csvRows };
};
