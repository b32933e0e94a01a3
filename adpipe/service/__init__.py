"""``make serve``: a prediction web service over the models the tasks save (it trains nothing itself).

- ``records``: request models derived from the loaders' schemas; records and uploads read by those loaders
  from memory;
- ``adapter``: what every served task shares (each task's own adapter — record, predictions, validation
  figure — is its package's ``service`` module, found through :data:`adpipe.tasks.TASKS`); ``profiles``: the
  two profile tasks' loader;
- ``explain``: the inputs that pushed one prediction most;
- ``registry``: loads the models once and says what each one is (``/health``);
- ``api`` (JSON, ``/api/v1``), ``pages`` (HTML forms and ``templates/``), ``app`` (the FastAPI app and its
  error answers); ``metrics`` (``GET /metrics``, summed over the workers);
- ``cli``: the ``serve`` command (gunicorn with uvicorn workers, models loaded before forking) and
  ``loadtest``.
"""
