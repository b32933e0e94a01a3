"""Explore (issue 34): the marketer's dashboard with slicers. A kit: the fact layer (``facts``: additive measures,
dimensions, each KPI once as a ratio of sums, one Polars aggregation), the reference data sets' fact builders
(``datasets``), the plan beside the KPIs (``plan``) and the explorer (``page`` with ``explore.js``). Its command
(``adpipe/commands/explore.py``) and ``make report``'s sections (``adpipe/dashboard/explore.py``) are apps.
docs/explore.md."""
