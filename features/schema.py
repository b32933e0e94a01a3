"""Read a CSV against a declared schema, failing with one line that names the file, column and line.

Every data set of the project is read through :func:`read_table`, so every loader gives the same
kind of error for the same kind of mistake (missing file, wrong delimiter, misspelled column,
non-numeric value, value outside a closed set, empty file).

Two readers share one contract. The fast one parses with pyarrow's multi-threaded CSV engine, the
column types declared up front, and checks the values with vectorised kernels; whenever it cannot
vouch for a column (a parse failure, stray whitespace, a missing or unknown value) that column, or
the whole file, goes through the careful text reader, which gives the one-line error naming file,
column and line. So the fast reader changes the speed, never the result or the message.
:func:`iter_table` reads the same way in blocks, for files larger than memory.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from adpipe.errors import DataError

Kind = Literal["str", "int", "float", "bool", "category", "datetime"]

TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")
_OTHER_SEPARATORS = (",", ";", "\t", "|")
# Offset from a 0-based data row to the file's 1-based line number (the header is line 1).
_HEADER_LINES = 2
# Encodings pyarrow reads natively (the header line, with any byte-order mark, is skipped by count).
_ARROW_ENCODINGS = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig"})
# Datetime formats pyarrow parses to whole seconds exactly as pandas does with the same format.
_ARROW_DATETIME_FORMAT = re.compile(r"(?:%[YmdHMS]|[-: T/])+")
_DATETIME_DTYPE = "datetime64[us]"


@dataclass(frozen=True)
class Column:
    """One column of a table: its canonical name, its kind and, for closed sets, the allowed values."""

    name: str
    kind: Kind = "str"
    allowed: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    required: bool = True
    nullable: bool = False
    datetime_format: str | None = None


@dataclass(frozen=True)
class TableSchema:
    """A CSV layout: its delimiter and its columns."""

    name: str
    sep: str
    columns: tuple[Column, ...]
    allow_empty: bool = False
    keep_extra_columns: bool = False
    encoding: str = "utf-8-sig"
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


class _UseTextPath(Exception):
    """The fast reader cannot vouch for this input: the careful text reader reads, or diagnoses, it."""


def line_of(row_position: int) -> int:
    """The 1-based line in the file of a 0-based data row (the header is line 1)."""
    return int(row_position) + _HEADER_LINES


def _read_header(path: Path, encoding: str) -> str:
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a CSV file", path=path)
    with path.open("r", encoding=encoding, newline="") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header.strip():
        raise DataError("file is empty (no header line)", path=path)
    return header


def _resolve_columns(path: Path, header: str, schema: TableSchema) -> dict[str, str]:
    """Map each file column to its canonical name; raise on a wrong delimiter or a missing column."""
    found = [name.strip().strip('"') for name in header.split(schema.sep)]
    rename: dict[str, str] = {}
    missing: list[Column] = []
    for column in schema.columns:
        candidates = (column.name, *column.aliases)
        hit = next((name for name in candidates if name in found), None)
        if hit is None:
            if column.required:
                missing.append(column)
            continue
        rename[hit] = column.name
    if not missing:
        return rename

    for other in _OTHER_SEPARATORS:
        if other == schema.sep:
            continue
        other_names = {name.strip().strip('"') for name in header.split(other)}
        if all(any(n in other_names for n in (c.name, *c.aliases)) for c in missing):
            raise DataError(
                f"columns are separated by {other!r}, but {schema.name} files use {schema.sep!r}",
                path=path,
            )
    column = missing[0]
    close = difflib.get_close_matches(column.name, found, n=1, cutoff=0.75)
    hint = f" (found '{close[0]}': misspelled?)" if close else f" (found: {', '.join(found)})"
    names = ", ".join(f"'{c.name}'" for c in missing)
    raise DataError(f"missing column {names}{hint}", path=path, column=column.name)


def check_rows(
    path: str | Path, column: str, bad: pd.Series | np.ndarray, values: pd.Series, problem: str, first_row: int = 0
) -> None:
    """Refuse a column if any row is flagged ``bad``: one line naming the first such row's line and value."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"value {values.iloc[position]!r} {problem} ({int(bad.sum())} bad value(s) in this column)",
            path=path,
            column=column,
            line=line_of(first_row + position),
        )


def _fail_at(path: Path, column: str, mask: pd.Series, raw: pd.Series, expected: str, first_row: int = 0) -> None:
    check_rows(path, column, mask, raw, f"is not {expected}", first_row)


def _check_nulls(path: Path, column: Column, values: pd.Series, first_row: int = 0) -> None:
    if not column.nullable:
        _fail_at(path, column.name, values.isna(), values, "allowed to be empty", first_row)


def _convert(path: Path, column: Column, raw: pd.Series, first_row: int = 0) -> pd.Series:
    """Convert one column read as text to its declared kind, naming the first bad line.

    ``first_row`` is the file row of ``raw``'s first value (non-zero when reading in blocks).
    """
    present = raw.notna() & (raw.astype("str").str.strip() != "")
    text = raw.where(present)
    if column.kind in ("int", "float"):
        values = pd.to_numeric(text.str.strip(), errors="coerce")
        _fail_at(path, column.name, present & values.isna(), raw, "a number", first_row)
        _check_nulls(path, column, values, first_row)
        if column.kind == "int":
            _fail_at(path, column.name, values.notna() & (values != values.round()), raw, "a whole number", first_row)
            if values.notna().all():
                return values.astype("int64")
        return values.astype("float64")
    if column.kind == "bool":
        lowered = text.str.strip().str.lower()
        known = lowered.isin(TRUE_VALUES + FALSE_VALUES)
        _fail_at(path, column.name, present & ~known, raw, "TRUE or FALSE", first_row)
        _check_nulls(path, column, text, first_row)
        return lowered.isin(TRUE_VALUES).where(present)
    if column.kind == "datetime":
        values = pd.to_datetime(text, format=column.datetime_format, errors="coerce")
        expected = f"a date-time like {column.datetime_format}" if column.datetime_format else "a date-time"
        _fail_at(path, column.name, present & values.isna(), raw, expected, first_row)
        _check_nulls(path, column, values, first_row)
        return values
    values = text.str.strip()
    if column.allowed is not None:
        allowed = ", ".join(column.allowed)
        _fail_at(path, column.name, present & ~values.isin(column.allowed), raw, f"one of: {allowed}", first_row)
    _check_nulls(path, column, values, first_row)
    return values.astype("category") if column.kind == "category" else values


def _edges_clean(values: pa.ChunkedArray) -> bool:
    """True when no string starts or ends with whitespace (so the careful reader's strip is a no-op).

    Looks at the first and last byte of each string; only strings whose edge byte is a control,
    space or non-ASCII byte are checked again with Python's own ``str.strip``.
    """
    for chunk in values.chunks:
        if len(chunk) == 0:
            continue
        offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, offsets_buffer, data_buffer = chunk.buffers()
        if data_buffer is None:
            continue
        offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[chunk.offset : chunk.offset + len(chunk) + 1]
        data = np.frombuffer(data_buffer, dtype=np.uint8)
        if len(data) == 0:
            continue
        # Missing and empty values have no bytes: their "edges" belong to a neighbour, and at worst
        # send a row to the exact check below.
        first = data[np.minimum(offsets[:-1], len(data) - 1)]
        last = data[np.maximum(offsets[1:] - 1, 0)]
        # Printable, non-space ASCII is 0x21-0x7E: shifted down by 0x21 (wrapping), it is <= 0x5D.
        suspect = ((first - np.uint8(0x21)) > 0x5D) | ((last - np.uint8(0x21)) > 0x5D)
        if suspect.any():
            texts = chunk.take(pa.array(np.flatnonzero(suspect))).to_pylist()
            if any(text is not None and text != text.strip() for text in texts):
                return False
    return True


def _text_series(values: pa.ChunkedArray) -> pd.Series:
    """A column read by pyarrow as text, as the careful reader would have it (pandas ``str``)."""
    return values.to_pandas().astype("str")


_ISO_SECONDS = "%Y-%m-%d %H:%M:%S"
# Byte columns of "YYYY-MM-DD HH:MM:SS": the separators, and the digits of each field.
_ISO_SEPARATORS = {4: b"-", 7: b"-", 10: b" ", 13: b":", 16: b":"}
_ISO_DIGITS = [i for i in range(19) if i not in _ISO_SEPARATORS]
# Each field's span in the 14 digits (the text without its separators).
_ISO_FIELDS = {"year": (0, 4), "month": (4, 6), "day": (6, 8), "hour": (8, 10), "minute": (10, 12), "second": (12, 14)}
_ISO_BLOCK = 1 << 16


def _fixed_width_seconds(values: pa.ChunkedArray, fmt: str) -> np.ndarray | None:
    """Seconds since 1970 of "YYYY-MM-DD HH:MM:SS" text, read as fixed-width digits (no per-value parser).

    None unless every value has exactly that shape and is a real date and time (years 1000-9999, no
    leap second), in which case strptime would read the same numbers: the caller then uses it.
    """
    if fmt != _ISO_SECONDS or values.null_count or len(values) == 0:
        return None
    seconds = np.empty(len(values), dtype=np.int64)
    done = 0
    for chunk in values.chunks:
        offsets_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, offsets_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[chunk.offset : chunk.offset + len(chunk) + 1]
        if len(chunk) == 0:
            continue
        if offsets[-1] - offsets[0] != 19 * len(chunk) or not (np.diff(offsets) == 19).all():
            return None
        text = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, 19)
        for start in range(0, len(text), _ISO_BLOCK):
            block = text[start : start + _ISO_BLOCK]
            if any((block[:, i] != ord(sep)).any() for i, sep in _ISO_SEPARATORS.items()):
                return None
            digits = block[:, _ISO_DIGITS].astype(np.int64) - ord("0")
            if ((digits < 0) | (digits > 9)).any():
                return None
            field = {}
            for name, (low, high) in _ISO_FIELDS.items():
                value = digits[:, low]
                for i in range(low + 1, high):
                    value = value * 10 + digits[:, i]
                field[name] = value
            month = field["month"]
            if (field["year"] < 1000).any() or (month < 1).any() or (month > 12).any():
                return None
            # First day of each month in the block's span, looked up (days since 1970).
            month_index = (field["year"] - 1970) * 12 + month - 1
            low = int(month_index.min())
            month_starts = np.arange(low, int(month_index.max()) + 2).astype("datetime64[M]").astype("datetime64[D]")
            month_starts = month_starts.astype(np.int64)
            first = month_starts[month_index - low]
            month_length = month_starts[month_index - low + 1] - first
            valid = (
                (field["day"] >= 1)
                & (field["day"] <= month_length)
                & (field["hour"] <= 23)
                & (field["minute"] <= 59)
                & (field["second"] <= 59)
            )
            if not valid.all():
                return None
            days = first + field["day"] - 1
            seconds[done + start : done + start + len(block)] = (
                days * 86_400 + field["hour"] * 3_600 + field["minute"] * 60 + field["second"]
            )
        done += len(chunk)
    return seconds


def _category_from_arrow(path: Path, column: Column, values: pa.ChunkedArray, first_row: int) -> pd.Series:
    """A dictionary-encoded column as the careful reader's categorical (categories sorted).

    The checks run on the few distinct values; a column that fails one is decoded and goes through
    :func:`_convert` as text.
    """
    values = pa.table({"values": values}).unify_dictionaries().column("values")
    dictionary = values.chunk(0).dictionary if values.num_chunks else pa.array([], pa.string())
    distinct = dictionary.to_pylist()
    clean = all(text == text.strip() and text != "" for text in distinct)
    allowed = column.allowed is None or set(distinct) <= set(column.allowed)
    if not clean or not allowed or (values.null_count and not column.nullable):
        return _convert(path, column, _text_series(values.cast(pa.string())), first_row)
    order = sorted(range(len(distinct)), key=distinct.__getitem__)
    # Each dictionary position's rank among the sorted values; the extra last entry is for missing (-1).
    rank = np.full(len(distinct) + 1, -1, dtype=np.int32)
    rank[order] = np.arange(len(distinct), dtype=np.int32)
    indices = pc.fill_null(pa.chunked_array([c.indices for c in values.chunks], pa.int32()), -1)
    codes = rank[indices.to_numpy()] if len(indices) else np.array([], dtype=np.int32)
    categories = pd.Index([distinct[i] for i in order], dtype="str")
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories))


def _convert_arrow(path: Path, column: Column, values: pa.ChunkedArray, first_row: int = 0) -> pd.Series:
    """The fast twin of :func:`_convert`: same result for a column pyarrow has read.

    Numbers that pyarrow parsed are checked for missing and NaN values (a failure raises _UseTextPath:
    the careful reader rereads the file); text columns are checked with vectorised kernels, and one
    that fails a check goes through :func:`_convert` as text, which gives the careful reader's error.
    """
    if column.kind in ("int", "float"):
        if values.null_count and not column.nullable:
            raise _UseTextPath(column.name)
        if column.kind == "float" and pc.any(pc.is_nan(values)).as_py():
            raise _UseTextPath(column.name)
        exact_int = column.kind == "int" and values.null_count == 0
        return pd.Series(values.to_numpy(), dtype="int64" if exact_int else "float64")
    if column.kind == "category":
        return _category_from_arrow(path, column, values, first_row)
    if (values.null_count and not column.nullable) or not _edges_clean(values):
        return _convert(path, column, _text_series(values), first_row)
    if column.kind == "datetime":
        fmt = column.datetime_format
        if fmt is None or not _ARROW_DATETIME_FORMAT.fullmatch(fmt):
            return _convert(path, column, _text_series(values), first_row)
        seconds = _fixed_width_seconds(values, fmt)
        if seconds is not None:
            return pd.Series((seconds * 1_000_000).view(_DATETIME_DTYPE))
        parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        if parsed.null_count != values.null_count:
            return _convert(path, column, _text_series(values), first_row)
        return pd.Series(parsed.to_numpy().astype(_DATETIME_DTYPE))
    if column.kind == "bool":
        lowered = pc.utf8_lower(values)
        known = set(pc.unique(lowered).to_pylist())
        if values.null_count or not known <= set(TRUE_VALUES + FALSE_VALUES):
            return _convert(path, column, _text_series(values), first_row)
        return pd.Series(pc.is_in(lowered, value_set=pa.array(TRUE_VALUES)).to_numpy(), dtype=bool)
    if column.allowed is not None:
        inside = pc.is_in(values, value_set=pa.array(column.allowed, pa.string()))
        if not pc.all(pc.or_kleene(inside, pc.is_null(values))).as_py():
            return _convert(path, column, _text_series(values), first_row)
    text = _text_series(values)
    return text.astype("category") if column.kind == "category" else text


def _wanted_columns(
    path: Path, schema: TableSchema, columns: Sequence[str] | None
) -> tuple[str, dict[str, str], list[Column]]:
    """The header, the file-to-canonical renaming and the columns to read; raises on a bad header."""
    header = _read_header(path, schema.encoding)
    rename = _resolve_columns(path, header, schema)
    wanted = [c for c in schema.columns if c.name in rename.values() and (columns is None or c.name in columns)]
    return header, rename, wanted


def _arrow_options(
    schema: TableSchema, header: str, rename: dict[str, str], wanted: list[Column], block_size: int | None = None
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
    """pyarrow's options for ``schema``: canonical names, declared types, only the empty string missing."""
    if schema.encoding.lower() not in _ARROW_ENCODINGS:
        raise _UseTextPath("encoding")
    names = [rename.get(name, name) for name in (n.strip().strip('"') for n in header.split(schema.sep))]
    if len(set(names)) != len(names):
        raise _UseTextPath("duplicate column names")
    arrow_type = {"int": pa.int64(), "float": pa.float64(), "category": pa.dictionary(pa.int32(), pa.string())}
    types = {c.name: arrow_type.get(c.kind, pa.string()) for c in wanted}
    include = names if schema.keep_extra_columns else [c.name for c in wanted]
    types.update({name: pa.string() for name in include if name not in types})
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, **({"block_size": block_size} if block_size else {}))
    convert = pacsv.ConvertOptions(
        column_types=types,
        include_columns=include,
        null_values=[""],
        strings_can_be_null=True,
    )
    return read, pacsv.ParseOptions(delimiter=schema.sep), convert


def _frame_from_arrow(
    path: Path, schema: TableSchema, table: pa.Table, wanted: list[Column], first_row: int = 0
) -> pd.DataFrame:
    """Convert a table pyarrow has read into what the careful reader returns for the same rows."""
    if schema.keep_extra_columns:
        frame = pd.DataFrame({name: _text_series(table.column(name)) for name in table.column_names})
    else:
        frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    # Two columns at a time: the kernels release the GIL. The first bad column (in order) raises.
    with ThreadPoolExecutor(max_workers=2) as pool:
        converted = pool.map(lambda c: _convert_arrow(path, c, table.column(c.name), first_row), wanted)
        for column, values in zip(wanted, converted, strict=True):
            frame[column.name] = values
    frame.index = pd.RangeIndex(first_row, first_row + table.num_rows) if first_row else frame.index
    return frame


def _read_text(
    path: Path,
    schema: TableSchema,
    rename: dict[str, str],
    wanted: list[Column],
    *,
    chunk_rows: int | None = None,
    skip_rows: int = 0,
) -> Iterator[pd.DataFrame]:
    """The careful reader: every value read as text, then converted column by column.

    Yields one frame (or blocks of ``chunk_rows`` rows, starting after ``skip_rows`` data rows).
    """
    source_of = {canonical: source for source, canonical in rename.items()}
    usecols = [source_of[c.name] for c in wanted]
    try:
        reader = pd.read_csv(
            path,
            sep=schema.sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding=schema.encoding,
            usecols=None if schema.keep_extra_columns else usecols,
            chunksize=chunk_rows,
            skiprows=range(1, skip_rows + 1) if skip_rows else None,
        )
        blocks = [reader] if chunk_rows is None else reader
        first_row = skip_rows
        for raw in blocks:
            raw.columns = [name.strip() for name in raw.columns]
            raw = raw.rename(columns=rename)
            table = raw.copy() if schema.keep_extra_columns else pd.DataFrame(index=raw.index)
            for column in wanted:
                table[column.name] = _convert(path, column, raw[column.name], first_row)
            if chunk_rows is not None:
                table.index = pd.RangeIndex(first_row, first_row + len(table))
            first_row += len(raw)
            yield table
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot be parsed as {schema.name}: {first_line}", path=path) from error


def estimate_rows(path: str | Path, sample_bytes: int = 1 << 20) -> int:
    """About how many data rows ``path`` holds, from the line length of its first ``sample_bytes``."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(sample_bytes)
    lines = sample.count(b"\n") or 1
    return max(1, round(size * lines / max(1, len(sample))) - 1)


def _check_not_empty(path: Path, schema: TableSchema, n_rows: int) -> None:
    if n_rows == 0 and not schema.allow_empty:
        raise DataError("file has a header but no data rows", path=path)


def read_table(path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` as ``schema``: canonical column names, declared kinds, or a :class:`DataError`.

    ``columns`` restricts the read to some of the schema's columns (for speed on large files).
    """
    path = Path(path)
    header, rename, wanted = _wanted_columns(path, schema, columns)
    try:
        read, parse, convert = _arrow_options(schema, header, rename, wanted)
        arrow_table = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        _check_not_empty(path, schema, arrow_table.num_rows)
        return _frame_from_arrow(path, schema, arrow_table, wanted)
    except (_UseTextPath, pa.ArrowException):
        table = next(_read_text(path, schema, rename, wanted))
        _check_not_empty(path, schema, len(table))
        return table


def iter_table(
    path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None, block_bytes: int = 64 << 20
) -> Iterator[pd.DataFrame]:
    """:func:`read_table` in blocks of about ``block_bytes`` of CSV, for files larger than memory.

    Each block's frame is indexed by its file rows; the blocks put together equal ``read_table``'s
    result, and a bad value raises the same error (the careful reader takes over from the first block
    the fast one cannot vouch for).
    """
    path = Path(path)
    header, rename, wanted = _wanted_columns(path, schema, columns)
    rows_done = 0
    try:
        read, parse, convert = _arrow_options(schema, header, rename, wanted, block_size=block_bytes)
        for batch in pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert):
            if batch.num_rows:
                yield _frame_from_arrow(path, schema, pa.Table.from_batches([batch]), wanted, rows_done)
                rows_done += batch.num_rows
    except (_UseTextPath, pa.ArrowException):
        rows_per_block = max(1000, block_bytes * estimate_rows(path) // max(1, path.stat().st_size))
        for table in _read_text(path, schema, rename, wanted, chunk_rows=rows_per_block, skip_rows=rows_done):
            rows_done += len(table)
            yield table
    _check_not_empty(path, schema, rows_done)


def arrow_strings(values: pd.Series) -> pa.ChunkedArray:
    """A text column as pyarrow strings; no copy when pandas already holds it in Arrow (``str``)."""
    array = values.array
    if hasattr(array, "__arrow_array__"):
        arrow = array.__arrow_array__()
    else:
        arrow = pa.array(values.to_numpy(dtype=object), from_pandas=True)
    arrow = arrow if isinstance(arrow, pa.ChunkedArray) else pa.chunked_array([arrow])
    if pa.types.is_dictionary(arrow.type):
        arrow = arrow.cast(arrow.type.value_type)
    if not (pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type)):
        arrow = arrow.cast(pa.string())
    return arrow


def all_distinct(values: pd.Series | pd.Index) -> bool:
    """No value repeats (one C++ hash pass; pandas' own check converts Arrow text to Python objects)."""
    values = pd.Series(values)
    if values.dtype.kind in "iufb":
        return bool(pd.Index(values).is_unique)
    return pc.count_distinct(arrow_strings(values), mode="all").as_py() == len(values)


def check_unique(path: str | Path, frame: pd.DataFrame, column: str) -> None:
    """Refuse repeated values of a key column, naming the first lines that share one."""
    if all_distinct(frame[column]):
        return
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        positions = np.flatnonzero(duplicated.to_numpy())
        lines = ", ".join(str(line_of(p)) for p in positions[:4])
        value = frame[column].iloc[positions[0]]
        raise DataError(
            f"duplicate {column} {value!r} on lines {lines} ({int(duplicated.sum())} rows share a value)",
            path=path,
            column=column,
        )
