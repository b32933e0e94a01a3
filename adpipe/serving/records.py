"""One definition of a valid record: the service's request models are derived from the loaders' schemas, and every
record, typed in a form, sent as JSON or uploaded as CSV, is read by the very same loader function as the CLI's.

:func:`record_model` turns a :class:`features.schema.TableSchema` into a pydantic model (field names, kinds,
closed vocabularies, optional and nullable columns), so FastAPI validates each field and documents it in
OpenAPI. :func:`read_files` then hands the loader a folder whose files are symbolic links to anonymous memory
files (Linux ``memfd``): the loaders read paths, and no byte a client sent is written to disk. Their table-level
rules (unique keys, sessions of unknown users, timestamp formats) thus apply exactly as on the command line,
and a :class:`DataError` comes back as a :class:`RecordError` naming the file, the row and the column.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

from adpipe.errors import DataError
from features.schema import Column, TableSchema

T = TypeVar("T")

# The first data row of a CSV is line 2 (the header is line 1).
_FIRST_DATA_LINE = 2
_PYTHON_TYPES: dict[str, Any] = {
    "int": int,
    "float": Annotated[float, Field(allow_inf_nan=False)],
    "bool": bool,
    "datetime": datetime,
    "str": Annotated[str, Field(min_length=1)],
    "category": Annotated[str, Field(min_length=1)],
}


class RecordError(ValueError):
    """Input a loader refused: the message, and where (file, 0-based data row, column) when it says.

    ``str()`` names the place as the command line does: ``file, column 'x', line n: message``.
    """

    def __init__(
        self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        # Where in a JSON request the refused value sits (set by the task that knows the request's layout).
        self.location: list[str | int] | None = None
        self.others: list[RecordError] = []  # more values refused in the same request (strict inputs: every one)
        line = row + _FIRST_DATA_LINE if row is not None else None
        where = [part for part in (file, column and f"column '{column}'", line and f"line {line}") if part]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


def field_name(column: str) -> str:
    """A Python identifier for a column name (``"Daily Time Spent on Site"`` -> ``daily_time_spent_on_site``)."""
    name = re.sub(r"\W+", "_", column.strip().lower()).strip("_")
    return name if name.isidentifier() else f"column_{name}"


def _annotation(column: Column) -> Any:
    """The column's kind, closed set and range as a type: what pydantic checks and OpenAPI documents."""
    kind = Literal[column.allowed] if column.allowed is not None else _PYTHON_TYPES[column.kind]
    if column.kind in ("int", "float") and (column.minimum is not None or column.maximum is not None):
        kind = Annotated[kind, Field(ge=column.minimum, le=column.maximum)]
    return kind | None if column.nullable or not column.required else kind


def record_model(
    schema: TableSchema, name: str, *, exclude: Sequence[str] = (), example: dict[str, Any] | None = None
) -> type[BaseModel]:
    """A pydantic model of one row of ``schema``: a field per column, keyed in JSON by the column's own name,
    with the column's kind, closed set and range (the loader's other rules apply when it reads the records).

    The column's aliases (the other spellings its loader accepts) are accepted too; unknown keys are refused,
    so a misspelled field is named rather than silently ignored.
    """
    fields: dict[str, Any] = {}
    for column in schema.columns:
        if column.name in exclude:
            continue
        spellings = dict.fromkeys((column.name, *column.aliases, field_name(column.name)))
        default = None if column.nullable or not column.required else ...
        fields[field_name(column.name)] = (
            _annotation(column),
            Field(default, validation_alias=AliasChoices(*spellings), serialization_alias=column.name),
        )
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example]} if example else None)
    return create_model(name, __config__=config, __doc__=f"One row of a {schema.name} file.", **fields)


def _text(value: Any, column: Column) -> str:
    """A field value as the CSV text its loader reads."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.strftime(column.datetime_format or "%Y-%m-%d %H:%M:%S")
    return str(value)


def csv_bytes(rows: Sequence[dict[str, Any]], schema: TableSchema) -> bytes:
    """``rows`` (keyed by column name) as a CSV of ``schema``'s layout: the columns some row sets, in schema order."""
    present = {key for row in rows for key, value in row.items() if value is not None}
    columns = [c for c in schema.columns if c.name in present or c.required]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=schema.sep, lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerows([_text(row.get(c.name), c) for c in columns] for row in rows)
    return buffer.getvalue().encode()


def rows_of(records: Sequence[BaseModel], **extra: Sequence[Any]) -> list[dict[str, Any]]:
    """Validated records keyed by column name; ``extra`` adds columns they do not carry, one value per record."""
    rows = [record.model_dump(by_alias=True) for record in records]
    for column, values in extra.items():
        for row, value in zip(rows, values, strict=True):
            row[column] = value
    return rows


@contextmanager
def in_memory_folder(files: dict[str, bytes]) -> Iterator[Path]:
    """A temporary folder of symbolic links to anonymous memory files holding ``files`` (name -> content).

    The folder holds only the links; the content lives in memory and is gone when the block ends.
    """
    descriptors: list[int] = []
    with tempfile.TemporaryDirectory(prefix="adpipe-request-") as folder:
        try:
            for name, data in files.items():
                descriptor = os.memfd_create(name, os.MFD_CLOEXEC)
                descriptors.append(descriptor)
                with open(descriptor, "wb", closefd=False) as handle:
                    handle.write(data)
                os.symlink(f"/proc/self/fd/{descriptor}", Path(folder) / name)
            yield Path(folder)
        finally:
            for descriptor in descriptors:
                os.close(descriptor)


def read_files(files: dict[str, bytes], read: Callable[[Path], T], shown: dict[str, str] | None = None) -> T:
    """``read(folder)`` on ``files`` held in memory; a :class:`DataError` becomes a :class:`RecordError`.

    ``shown`` maps a file name to how messages name it (e.g. the uploaded file's own name).
    """
    try:
        with in_memory_folder(files) as folder:
            return read(folder)
    except DataError as error:
        raise record_error(error, shown) from error


def record_error(error: DataError, shown: dict[str, str] | None = None) -> RecordError:
    """A loader's :class:`DataError` as a :class:`RecordError`: its file (as ``shown`` names it), row and column."""
    file = error.path.name if error.path is not None else None
    row = error.line - _FIRST_DATA_LINE if error.line is not None else None
    shown_as = (shown or {}).get(file, file) if file is not None else None
    return RecordError(error.message, file=shown_as, row=row, column=error.column)
