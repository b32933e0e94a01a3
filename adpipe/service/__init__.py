"""``make serve``: a prediction web service over the models the tasks save (it trains nothing itself).

- ``records``: request models derived from the loaders' schemas; records and uploads read by those loaders
  from memory;
- ``tasks``: one module per served task (its model file, record, predictions, validation figure);
- ``explain``: the inputs that pushed one prediction most;
- ``registry``: loads the models once and says what each one is (``/health``);
- ``api`` (JSON, ``/api/v1``), ``pages`` (HTML forms and ``templates/``), ``app`` (the FastAPI app and its
  error answers);
- ``cli``: the ``serve`` command (gunicorn with uvicorn workers, models loaded before forking) and
  ``loadtest``.
"""
