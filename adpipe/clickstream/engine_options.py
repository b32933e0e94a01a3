"""The ``--engine`` and ``--scheduler`` options of every ClickStream command that aggregates sessions.

``features``, ``train``, ``predict`` and ``validate`` take them and pass them to
:func:`features.clickstream.load_split`; docs/cluster.md says when each engine is the right one.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal

import typer

from adpipe.errors import OptionError

# How the sessions are aggregated: Polars' in-memory engine, its streaming engine (in chunks, for input
# larger than memory), or a Dask cluster (features/clickstream_dask.py); "auto" picks by size (choose_engine).
# Declared here, with the option, so that the commands' signatures need no Polars.
Engine = Literal["auto", "memory", "chunked", "dask"]


def engine_option() -> Any:
    """``--engine``: declare the parameter as :data:`Engine` (Typer checks the choice)."""
    return typer.Option(
        "auto",
        "--engine",
        help="How the sessions are aggregated: memory (Polars in memory), chunked (Polars streaming, input larger "
        "than memory), dask (a Dask cluster: --scheduler, or a local one), auto (memory for small sessions that fit, "
        "chunked for larger ones, a local Dask cluster when even chunked would not fit; the command says which).",
    )


def scheduler_option() -> Any:
    """``--scheduler``: a Dask scheduler's address, or None."""
    return typer.Option(
        None,
        "--scheduler",
        help="With --engine dask: the address of a running Dask scheduler (tcp://HOST:8786); "
        "without it a LocalCluster of one worker per core is started.",
    )


def dask_only(engine: Engine, option: str, given: bool) -> None:
    """An option of the dask engine given with another engine: say so rather than ignore it."""
    if given and engine != "dask":
        raise OptionError(f"is for --engine dask, not --engine {engine}", option=option)


def check_scheduler(engine: Engine, scheduler: str | None) -> None:
    """A scheduler address is for the dask engine only."""
    dask_only(engine, "--scheduler", scheduler is not None)


def cluster(engine: Engine, scheduler: str | None) -> contextlib.AbstractContextManager[Any]:
    """For ``--engine dask``, one Dask client for the whole command (every split it loads uses it); else nothing."""
    if engine != "dask":
        return contextlib.nullcontext()
    from adpipe.clickstream.engine_dask import connect  # dask is imported only when asked for

    return connect(scheduler)
