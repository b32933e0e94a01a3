"""Explore (issue 34): the marketer's dashboard with slicers. A kit: the fact layer (``facts``: additive measures,
dimensions, each KPI once as a ratio of sums, one Polars aggregation), the reference data sets' fact builders
(``datasets``), the offline page (``page`` with ``explore.js``) and its command (``cli``). docs/explore.md."""
