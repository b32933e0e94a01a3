"""``make bench`` (``model.py bench``): an application beside the main task it measures, the ClickStream feature
build and predict at growing sizes.

- ``cli``: the commands (``run``, ``profile``, the hidden ``measure`` each fresh process runs) and what the
  figures mean;
- ``run``: a whole run: each size's synthetic data, every engine measured in fresh processes, the report;
- ``measure``: one measurement in its fresh process (time, CPU, peak and anonymous memory);
- ``engines``: the independent engines (DuckDB SQL, plain pandas) and the parse floor;
- ``scale``: our engines on CSV and Parquet inputs, the Dask cluster and the sample check;
- ``targets``: the ratios, the targets and the printed table, read from a run's figures;
- ``profile``: ``bench profile``, where a feature build spends its time.

Light: ``model.py`` registers the commands without importing an engine.
"""
