"""``make serve``: a prediction web service over the models the tasks save (it trains nothing itself).

An app: it hosts the tasks of :data:`adpipe.tasks.TASKS` through their adapters, which are built on the
serving kit below the tasks (:mod:`adpipe.serving`).

- ``registry``: loads the models once and says what each one is (``/health``);
- ``api`` (JSON, ``/api/v1``), ``pages`` (HTML forms and ``templates/``), ``app`` (the FastAPI app and its
  error answers); ``metrics`` (``GET /metrics``, summed over the workers);
- ``cli``: the ``serve`` command (gunicorn with uvicorn workers, models loaded before forking) and
  ``loadtest``.
"""
