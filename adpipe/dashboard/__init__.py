"""``make report``: one self-contained HTML page of every task's results, read from ``reports/*.json`` and the
saved models (nothing long is re-run), with plotly figures and plotly.js embedded once so it opens offline.

An app: the sections it hosts are built with the dashboard kit below the tasks (:mod:`adpipe.sections`).

- ``build``: the overview, each task's section (its package's ``dashboard`` module, in the task list's
  order), ``models`` (the served versions), ``monitor`` and ``scale`` (the benchmark's);
- ``render``: the page as one HTML file through the Jinja2 template ``templates/index.html.j2``;
- ``cli``: the ``report`` command.
"""
