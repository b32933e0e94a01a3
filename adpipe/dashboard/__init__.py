"""``make report``: one self-contained HTML page of every task's results, read from ``reports/*.json`` and the
saved models (nothing long is re-run), with plotly figures and plotly.js embedded once so it opens offline.

- ``page``: what a section is made of (figures with their caption and protocol, tables, notes) and the
  rendering into one HTML file through the Jinja2 template ``templates/index.html.j2``;
- ``sources``: reading each input, or saying which command produces it;
- one module per section: ``overview``, ``main_task``, ``ctr``, ``roas``, ``segments``, ``scale``;
- ``build``: the sections in page order and the ``report`` command.
"""
