"""``python model.py serve`` and ``python model.py loadtest``.

``serve`` runs gunicorn with uvicorn workers: the app, and so every model, is created once in the master
before it forks (``preload``), each worker answers on its own core, and SIGTERM lets in-flight requests
finish (up to ``GRACEFUL_SECONDS``) before the workers exit. The web stack is imported only by these commands.
Each run counts its ``/metrics`` in a fresh temporary folder shared by its workers (prometheus_client's
multiprocess mode), named before anything imports prometheus_client and removed when the server stops.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from adpipe import config
from adpipe.cli_support import exit_on_error
from adpipe.service.image import image_command
from adpipe.service.keys import ADMIN_KEYS_ENV, KEYS_ENV, bind_warning, read_keys
from adpipe.service.monitor_cli import calibrate_command, monitor_command
from adpipe.serving.window import DEFAULT_SIZE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_WORKERS = 2
GRACEFUL_SECONDS = 30

Host = typer.Option(DEFAULT_HOST, "--host", help="Address to bind (0.0.0.0 only inside a container).")
Port = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="TCP port.")
Workers = typer.Option(DEFAULT_WORKERS, "--workers", min=1, max=64, help="Worker processes (one per core).")


@contextmanager
def metrics_folder() -> Iterator[Path]:
    """A new, empty folder for the workers' metric files, named in ``PROMETHEUS_MULTIPROC_DIR`` before the app
    imports prometheus_client (which reads it then), removed when the server stops: no earlier run's counts
    enter this one's sums. Only the process that made it removes it (a forked worker leaves through here too),
    and it puts the variable back as it was: a process started later from this one must not inherit a folder
    that is gone (prometheus_client then refuses to start)."""
    folder = Path(tempfile.mkdtemp(prefix="adpipe-metrics-"))
    before = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    owner = os.getpid()
    try:
        yield folder
    finally:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
            if before is None:
                del os.environ["PROMETHEUS_MULTIPROC_DIR"]
            else:
                os.environ["PROMETHEUS_MULTIPROC_DIR"] = before


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook, in the master: a dead worker's live gauges (the model versions) leave the
    scrape; its counters stay in the sums (what it served was served); the exit is counted."""
    from prometheus_client import multiprocess

    from adpipe.service.metrics import WORKER_EXITS

    multiprocess.mark_process_dead(worker.pid)
    WORKER_EXITS.inc()


def run_server(
    host: str,
    port: int,
    workers: int,
    models_dir: Path = config.MODELS_DIR,
    reports_dir: Path = config.REPORTS_DIR,
    strict_inputs: bool = False,
    app_options: dict[str, Any] | None = None,
) -> None:
    """Create the app (loading the models) and serve it with gunicorn until SIGTERM or Ctrl-C; ``app_options``:
    :func:`adpipe.service.app.create_app`'s other keyword arguments (the drift window's, the API keys). Called
    inside :func:`metrics_folder`, entered before anything imports prometheus_client."""
    from prometheus_client import values

    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ or values.ValueClass is values.MutexValue:
        # prometheus_client chooses where a metric counts when it is first imported: before the folder was named,
        # each worker would count alone and a scrape would read only the worker answering it.
        raise RuntimeError("prometheus_client was imported before serve named PROMETHEUS_MULTIPROC_DIR")
    _serve(host, port, workers, models_dir, reports_dir, strict_inputs, app_options)


def _serve(
    host: str,
    port: int,
    workers: int,
    models_dir: Path,
    reports_dir: Path,
    strict_inputs: bool,
    app_options: dict[str, Any] | None,
) -> None:
    from gunicorn.app.base import BaseApplication

    from adpipe.service.app import create_app  # after PROMETHEUS_MULTIPROC_DIR is set: see metrics_folder

    class Server(BaseApplication):
        def __init__(self, application: Any, options: dict[str, Any]) -> None:
            self.application, self.options = application, options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return self.application

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")
    app = create_app(models_dir, reports_dir, strict_inputs, **(app_options or {}))
    for status in app.state.statuses.values():
        if status.loaded:
            served = "promoted" if status.promoted else "working file: nothing promoted yet"
            typer.echo(f"serving {status.task}: version {status.version} ({served}), trained {status.trained_at}")
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "uvicorn_worker.UvicornWorker",
        "preload_app": True,
        "graceful_timeout": GRACEFUL_SECONDS,
        "timeout": 120,
        "accesslog": None,
        "errorlog": "-",
        "child_exit": worker_exited,
    }
    typer.echo(f"http://{host}:{port}/ ({workers} workers; API document at /docs; Ctrl-C or SIGTERM stops)")
    Server(app, options).run()


def serve_command(
    host: str = Host,
    port: int = Port,
    workers: int = Workers,
    train: bool = typer.Option(False, "--train-missing", help="First train missing models with quick settings."),
    models: Path = typer.Option(config.MODELS_DIR, "--models", help="Folder of the saved models to serve."),
    reports: Path = typer.Option(config.REPORTS_DIR, "--reports", help="Folder of the validation reports."),
    strict: bool = typer.Option(
        False, "--strict-inputs", help="Refuse (422) inputs outside a model's training range or unseen in training."
    ),
    window: int = typer.Option(
        DEFAULT_SIZE, "--monitor-window", min=20, max=1_000_000, help="Answers per task each worker keeps for /monitor."
    ),
    monitor_dir: Path | None = typer.Option(
        None, "--monitor-dir", help="Also write served inputs and answers there (Parquet files; none by default)."
    ),
    monitor_mb: int = typer.Option(100, "--monitor-max-mb", min=1, help="Size cap of each task's files there (MB)."),
    keys_file: Path | None = typer.Option(
        None, "--api-keys", help=f"File of API keys, one per line [default: ${KEYS_ENV}, comma-separated; none: open]."
    ),
    admin_keys_file: Path | None = typer.Option(
        None,
        "--admin-keys",
        help=f"File of admin keys for POST /admin/promote and /admin/rollback [default: ${ADMIN_KEYS_ENV}; none: off].",
    ),
    explore_data: list[str] | None = typer.Option(
        None,
        "--explore-data",
        help="NAME=FILE.parquet, repeatable: a fact file (explore --output FILE.parquet) served at /explore/NAME "
        "beside the reference data sets [default: $ADPIPE_EXPLORE_DATA, comma-separated].",
    ),
) -> None:
    """Serve every saved model: HTML forms at /, the JSON API at /api/v1, drift at /monitor, /health, the API
    document at /docs."""
    with metrics_folder():  # first: the explore module below imports prometheus_client (see run_server)
        with exit_on_error():
            keys = read_keys(keys_file)
            admin_keys = read_keys(admin_keys_file, variable=ADMIN_KEYS_ENV)
            from adpipe.service.explore import parse_explore_data

            explore_files = parse_explore_data(explore_data or [])
            if train:
                from adpipe.service.registry import train_missing

                train_missing()
        warning = bind_warning(host, keys)
        if warning:
            typer.echo(warning, err=True)
        elif keys is not None:
            typer.echo(f"API keys: {len(keys)}; predictions need one (X-API-Key header, or /key in a browser)")
        options = {
            "monitor_window": window,
            "monitor_dir": monitor_dir,
            "monitor_max_bytes": monitor_mb * 1024 * 1024,
            "api_keys": keys,
            "admin_keys": admin_keys,
            "explore_data": explore_files,
        }
        run_server(host, port, workers, models, reports, strict, options)


def loadtest_command(
    requests: int = typer.Option(1000, "--requests", min=10, max=100_000, help="Requests per single-record test."),
    batch_requests: int = typer.Option(20, "--batch-requests", min=2, max=1000, help="Requests per batch test."),
    seconds: float = typer.Option(60.0, "--seconds", min=1.0, max=600.0, help="Time limit of each test."),
    workers: int = Workers,
    report: Path = typer.Option(config.REPORTS_DIR / "loadtest.json", "--report", help="Where the JSON goes."),
) -> None:
    """Start the service on 127.0.0.1, measure throughput and latency of each task with `hey`, stop it."""
    from adpipe.service.loadtest import render, run_loadtest
    from adpipe.service.registry import train_missing

    with exit_on_error(keeps=report):
        train_missing()
        result = run_loadtest(requests, batch_requests, seconds, workers, report)
    typer.echo(render(result))
    typer.echo(f"report -> {report}")


def loadtest_explore_command(
    explore_data: list[str] | None = typer.Option(
        None, "--explore-data", help="NAME=FILE.parquet, repeatable: fact files to measure beside the reference sets."
    ),
    requests: int = typer.Option(200, "--requests", min=10, max=100_000, help="Requests per URL."),
    seconds: float = typer.Option(120.0, "--seconds", min=1.0, max=600.0, help="Time limit of each URL's run."),
    workers: int = Workers,
    report: Path = typer.Option(config.REPORTS_DIR / "loadtest_explore.json", "--report", help="Where the JSON goes."),
    page: bool = typer.Option(
        True, "--page/--no-page", help="Also time the offline page's load and redraw at 10^5 rows (Chromium)."
    ),
) -> None:
    """The offline Explore page's load and redraw at 10^5 rows (headless Chromium), then the service on 127.0.0.1:
    GET /api/v1/explore/<dataset> (cards, trend, bars) with `hey`."""
    from adpipe.service.explore import parse_explore_data
    from adpipe.service.explore_bench import render, run_bench

    with exit_on_error(keeps=report):
        result = run_bench(parse_explore_data(explore_data or []), requests, seconds, workers, report, page)
    typer.echo(render(result))
    typer.echo(f"report -> {report}")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``loadtest``, ``loadtest-explore``, ``monitor``, ``monitor-calibrate`` and ``image`` to the
    CLI."""
    app.command("serve")(serve_command)
    app.command("loadtest")(loadtest_command)
    app.command("loadtest-explore")(loadtest_explore_command)
    app.command("monitor")(monitor_command)
    app.command("monitor-calibrate")(calibrate_command)
    app.command("image")(image_command)
