// The plan panel of an explorer (docs/explore.md): the budget plan of the kept segments (a segment is kept when
// one of its rows is), their response curves and plan rows, largest planned change first; the first PLAN_CURVES
// curves are drawn. explore.js, loaded before this file, calls it for an explorer whose payload carries a plan:
// `rows` is the explorer's row count, `dims` its dimensions (codes per row), `layout` and `draw(div, {traces, layout})`
// its charts'.
window.explorePlanPanel = function (explorer) {
  "use strict";
  const { root, plan, dims, rows, layout, draw } = explorer;
  const PLAN_CURVES = 6;
  const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
  const segmentOf = planSegments();
  function planSegments() {
    const index = new Map(plan.segments.map((s, j) => [s.codes.join(","), j]));
    const of = new Int32Array(rows);
    for (let i = 0; i < rows; i++) of[i] = index.get(plan.dims.map((k) => dims[k].codes[i]).join(",")) ?? -1;
    return of;
  }
  const money = (v) => v.toLocaleString(undefined, { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 2 });
  const change = (s) => (s.today > 0 ? s.planned / s.today - 1 : Infinity);
  function cells(row, texts) {
    texts.forEach((text) => row.appendChild(document.createElement("td")).append(text));
    return row;
  }
  return function drawPlan(keptRows) {
    const seen = new Set();
    for (const i of keptRows) if (segmentOf[i] >= 0) seen.add(segmentOf[i]);
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
    draw(div, { traces, layout: chart });
  };
};
