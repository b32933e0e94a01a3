"""``make report``: one self-contained HTML page of every task's results, read from ``reports/*.json`` and the
saved models (nothing long is re-run), with plotly figures and plotly.js embedded once so it opens offline.

- ``page``: what a section is made of (figures with their caption and protocol, tables, notes) and the
  rendering into one HTML file through the Jinja2 template ``templates/index.html.j2``;
- ``sources``: reading each input, or saying which command produces it;
- ``build``: the overview, each task's section (its package's ``dashboard`` module, in the task list's
  order) and ``scale`` (the benchmark's); ``cli``: the ``report`` command.
"""
