"""Synthetic ClickStream data at any size, in the challenge's own files and formats.

Writes ``<out>/train/user_train.csv`` + ``session_train.csv`` and ``<out>/test/user_test.csv`` +
``session_test.csv``: the same columns, delimiters (users ``;``, sessions ``,``), formats and value
ranges as the challenge data, with the awkward parts a real export has and the challenge data lacks:
users without sessions, and session values outside the known vocabularies (a new device, browser,
operating system, country). The target is drawn independently of everything else: the data is for
timing and robustness, not for learning.

    python model.py synth --users 1000000 --sessions-per-user 10 --out /tmp/clickstream-1e7 --seed 0

Everything is vectorised (numpy for the draws, pyarrow for the text and the CSV writer) and written
in batches of users, so 10^7 sessions take about a minute and little memory.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from tqdm import tqdm

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.io import all_or_nothing, atomic_path
from features.choices import MAX_SESSIONS_PER_USER, MAX_USERS
from features.clickstream_loaders import (
    BROWSERS,
    CLASSES,
    DEVICE_TYPES,
    OPERATING_SYSTEMS,
    SESSIONS_SCHEMA,
    TARGET,
    TIMESTAMP_FORMAT,
    USER_CATEGORIES,
    USERS_TEST_SCHEMA,
    USERS_TRAIN_SCHEMA,
)

Split = Literal["train", "test"]

# The 243 country names of the challenge data (Faker's list), and a few real ones it does not have.
COUNTRIES = tuple(
    """Afghanistan|Albania|Algeria|American Samoa|Andorra|Angola|Anguilla|Antarctica (the territory South of 60 deg S)|
Antigua and Barbuda|Argentina|Armenia|Aruba|Australia|Austria|Azerbaijan|Bahamas|Bahrain|Bangladesh|Barbados|Belarus|
Belgium|Belize|Benin|Bermuda|Bhutan|Bolivia|Bosnia and Herzegovina|Botswana|Bouvet Island (Bouvetoya)|Brazil|
British Indian Ocean Territory (Chagos Archipelago)|British Virgin Islands|Brunei Darussalam|Bulgaria|Burkina Faso|
Burundi|Cambodia|Cameroon|Canada|Cape Verde|Cayman Islands|Central African Republic|Chad|Chile|China|Christmas Island|
Cocos (Keeling) Islands|Colombia|Comoros|Congo|Cook Islands|Costa Rica|Cote d'Ivoire|Croatia|Cuba|Cyprus|
Czech Republic|Denmark|Djibouti|Dominica|Dominican Republic|Ecuador|Egypt|El Salvador|Equatorial Guinea|Eritrea|
Estonia|Ethiopia|Falkland Islands (Malvinas)|Faroe Islands|Fiji|Finland|France|French Guiana|French Polynesia|
French Southern Territories|Gabon|Gambia|Georgia|Germany|Ghana|Gibraltar|Greece|Greenland|Grenada|Guadeloupe|Guam|
Guatemala|Guernsey|Guinea|Guinea-Bissau|Guyana|Haiti|Heard Island and McDonald Islands|Holy See (Vatican City State)|
Honduras|Hong Kong|Hungary|Iceland|India|Indonesia|Iran|Iraq|Ireland|Isle of Man|Israel|Italy|Jamaica|Japan|Jersey|
Jordan|Kazakhstan|Kenya|Kiribati|Korea|Kuwait|Kyrgyz Republic|Lao People's Democratic Republic|Latvia|Lebanon|
Lesotho|Liberia|Libyan Arab Jamahiriya|Liechtenstein|Lithuania|Luxembourg|Macao|Madagascar|Malawi|Malaysia|Maldives|
Mali|Malta|Marshall Islands|Martinique|Mauritania|Mauritius|Mayotte|Mexico|Micronesia|Moldova|Monaco|Mongolia|
Montenegro|Montserrat|Morocco|Mozambique|Myanmar|Namibia|Nauru|Nepal|Netherlands|Netherlands Antilles|New Caledonia|
New Zealand|Nicaragua|Niger|Nigeria|Niue|Norfolk Island|North Macedonia|Northern Mariana Islands|Norway|Oman|
Pakistan|Palau|Palestinian Territory|Panama|Papua New Guinea|Paraguay|Peru|Philippines|Pitcairn Islands|Poland|
Portugal|Puerto Rico|Qatar|Reunion|Romania|Russian Federation|Rwanda|Saint Barthelemy|Saint Helena|
Saint Kitts and Nevis|Saint Lucia|Saint Martin|Saint Pierre and Miquelon|Saint Vincent and the Grenadines|Samoa|
San Marino|Sao Tome and Principe|Saudi Arabia|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|
Slovakia (Slovak Republic)|Slovenia|Solomon Islands|Somalia|South Africa|South Georgia and the South Sandwich Islands|
Spain|Sri Lanka|Sudan|Suriname|Svalbard & Jan Mayen Islands|Swaziland|Sweden|Switzerland|Syrian Arab Republic|Taiwan|
Tajikistan|Tanzania|Thailand|Timor-Leste|Togo|Tokelau|Tonga|Trinidad and Tobago|Tunisia|Turkey|Turkmenistan|
Turks and Caicos Islands|Tuvalu|Uganda|Ukraine|United Arab Emirates|United Kingdom|
United States Minor Outlying Islands|United States Virgin Islands|United States of America|Uruguay|Uzbekistan|Vanuatu|
Venezuela|Vietnam|Wallis and Futuna|Western Sahara|Yemen|Zambia|Zimbabwe""".replace("\n", "").split("|")
)
UNSEEN_COUNTRIES = ("Kosovo", "South Sudan", "Curaçao", "Sint Maarten", "Eswatini")
# Values outside the closed vocabularies of features.clickstream (counted there as "other").
UNSEEN_DEVICES = ("smart_tv",)
UNSEEN_BROWSERS = ("Opera", "Samsung Internet")
UNSEEN_SYSTEMS = ("ChromeOS",)

_WORD_TEXT = """able about action after again against agree almost already also always among animal answer approach area
arrive authority away back bank beautiful become bill board book both budget building business capital care
career carry case cause center chance change choice church city civil close cold common computer cost country
course cover culture current dark decision deep degree design detail develop difference dinner direction doctor
dream during early easy edge effect effort energy enough environment evening event every evidence exactly family
far feel field fight figure final finally financial fire first floor focus follow forward free friend full future
game garden general girl goal good great green ground group growth happy hard head health hear heart high history
home hope hotel house idea image imagine important indeed interest issue itself kitchen know land large later
leader learn left letter level life light line list little local long machine magazine maintain majority manage
market matter maybe measure media meeting member memory message method middle might military million mind minute
modern moment money month morning mother move music myself national natural nature near need network never news
newspaper night north note nothing number occur office often order other owner page paper parent party pass
people perhaps person phone picture piece place plan plant player police policy political possible power practice
prepare present prevent price probably problem produce program prove public purpose quality question quickly
rather reach read ready real reason receive record remain report responsibility rich right rise road rock role
room rule save school science season second security senior serve service shoulder simple skill skin social
society soldier somebody something sort sound source south space speak special sport staff stage standard start
state station still stock store story strategy street strong student study style subject success summer support
sure system table teach team technology television theory thing think though thousand through time today together
total tough toward town trade traditional training travel treat tree trial trip true truth type under until value
various very view visit voice vote wait walk wall watch water wear week weight west whatever where whole wife
window wish without woman wonder word work world worry writer wrong yard yeah year young"""
_WORDS = tuple(_WORD_TEXT.split())

START = np.datetime64("2023-01-01T00:00:00", "s")
END = np.datetime64("2023-10-28T23:59:59", "s")
AGES = (18, 70)
PAGE_VIEWS = (3, 10)
SESSION_DURATION = (20, 300)
_QUERY_POOL = 4096
_BATCH_USERS = 50_000
_BATCH_SESSIONS = 500_000  # fewer users per batch when each has many sessions, so memory stays bounded
# Bytes per row of the written files (measured: about 62-66 per user, 184 per session), with some margin.
USER_ROW_BYTES, SESSION_ROW_BYTES = 72, 190


@dataclass(frozen=True)
class SynthConfig:
    """How much to draw and how awkward to make it (shares are per user or per session)."""

    users: int
    sessions_per_user: float = 10.0
    seed: int = 0
    no_session_share: float = 0.02
    unseen_share: float = 0.005
    empty_query_share: float = 0.005


def _uuid4(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random version-4 UUID strings (lower-case hex, dashed), built without Python loops."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = hex_digits[raw >> 4]
    hexed[:, 1::2] = hex_digits[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for start, stop, source in ((0, 8, 0), (9, 13, 8), (14, 18, 12), (19, 23, 16), (24, 36, 20)):
        text[:, start:stop] = hexed[:, source : source + stop - start]
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text))


def _pick(rng: np.random.Generator, n: int, known: tuple[str, ...], unseen: tuple[str, ...], share: float) -> pa.Array:
    """Uniform draws from ``known``, a ``share`` of them replaced by draws from ``unseen``."""
    vocabulary = pa.array(known + unseen)
    index = rng.integers(0, len(known), size=n)
    surprise = rng.random(n) < share
    index[surprise] = len(known) + rng.integers(0, len(unseen), size=int(surprise.sum()))
    return vocabulary.take(pa.array(index))


def _ip_addresses(rng: np.random.Generator, n: int) -> pa.Array:
    """Dotted IPv4 addresses, first octet 1-223 like the challenge data."""
    octets = [rng.integers(1, 224, size=n), *(rng.integers(0, 256, size=n) for _ in range(3))]
    return pc.binary_join_element_wise(*(pc.cast(pa.array(o), pa.string()) for o in octets), ".")


def _query_pool(rng: np.random.Generator) -> pa.Array:
    """Short sentences like the challenge's search queries (3-8 words, capitalised, full stop)."""
    words = np.asarray(_WORDS)
    sentences = []
    for length in rng.integers(3, 9, size=_QUERY_POOL):
        text = " ".join(words[rng.integers(0, len(words), size=length)])
        sentences.append(text[0].upper() + text[1:] + ".")
    return pa.array(sentences)


def _users_batch(rng: np.random.Generator, ids: pa.Array, split: Split, first_test_id: int) -> pa.Table:
    n = len(ids)
    columns = {
        "user_id": ids,
        "age": pa.array(rng.integers(AGES[0], AGES[1] + 1, size=n)),
        "abandoned_cart": pa.array(np.where(rng.random(n) < 0.5, "TRUE", "FALSE")),
        "user_category": pa.array(USER_CATEGORIES).take(pa.array(rng.integers(0, len(USER_CATEGORIES), size=n))),
    }
    if split == "train":
        columns[TARGET] = pa.array(np.asarray(CLASSES)[rng.integers(0, len(CLASSES), size=n)])
    else:
        columns["test_id"] = pa.array(np.arange(first_test_id, first_test_id + n))
    schema = USERS_TRAIN_SCHEMA if split == "train" else USERS_TEST_SCHEMA
    return pa.table({c.name: columns[c.name] for c in schema.columns})


def _session_range(sessions_per_user: float) -> tuple[int, int]:
    """The fewest and most sessions of a user with sessions: [M/2, 3M/2] (5-15 for M=10, as in the challenge)."""
    return max(1, round(sessions_per_user / 2)), max(1, round(sessions_per_user * 3 / 2))


def _session_counts(rng: np.random.Generator, n: int, settings: SynthConfig) -> np.ndarray:
    """Sessions per user: uniform on :func:`_session_range`, some users none."""
    low, high = _session_range(settings.sessions_per_user)
    counts = rng.integers(low, high + 1, size=n)
    counts[rng.random(n) < settings.no_session_share] = 0
    return counts


def _sessions_batch(
    rng: np.random.Generator, ids: pa.Array, counts: np.ndarray, queries: pa.Array, settings: SynthConfig
) -> pa.Table:
    """The sessions of one batch of users: each user's sessions together, users in shuffled order."""
    order = rng.permutation(len(ids))
    owner = np.repeat(order, counts[order])
    n = len(owner)
    seconds = rng.integers(0, int((END - START).astype(np.int64)) + 1, size=n)
    query = queries.take(pa.array(rng.integers(0, len(queries), size=n)))
    empty = pa.array(rng.random(n) < settings.empty_query_share)
    columns = {
        "user_id": ids.take(pa.array(owner)),
        "session_id": _uuid4(rng, n),
        "timestamp": pc.cast(pa.array(START + seconds), pa.string()),
        "device_type": _pick(rng, n, DEVICE_TYPES, UNSEEN_DEVICES, settings.unseen_share),
        "browser": _pick(rng, n, BROWSERS, UNSEEN_BROWSERS, settings.unseen_share),
        "operating_system": _pick(rng, n, OPERATING_SYSTEMS, UNSEEN_SYSTEMS, settings.unseen_share),
        "ip_address": _ip_addresses(rng, n),
        "country": _pick(rng, n, COUNTRIES, UNSEEN_COUNTRIES, settings.unseen_share),
        "search_query": pc.if_else(empty, pa.scalar("", pa.string()), query),
        "page_views": pa.array(rng.integers(PAGE_VIEWS[0], PAGE_VIEWS[1] + 1, size=n)),
        "session_duration": pa.array(rng.integers(SESSION_DURATION[0], SESSION_DURATION[1] + 1, size=n)),
    }
    return pa.table({c.name: columns[c.name] for c in SESSIONS_SCHEMA.columns})


def write_split(out_dir: str | Path, split: Split, settings: SynthConfig, progress: bool = True) -> tuple[Path, Path]:
    """Write the user and session files of one split (each through a temporary file); returns their paths."""
    split_dir = Path(out_dir) / split
    users_name, sessions_name = (
        (config.USERS_TRAIN_FILE, config.SESSIONS_TRAIN_FILE)
        if split == "train"
        else (config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE)
    )
    users_path, sessions_path = split_dir / users_name, split_dir / sessions_name
    rng = np.random.default_rng([settings.seed, 0 if split == "train" else 1])
    queries = _query_pool(rng)
    batch_users = min(_BATCH_USERS, max(1, _BATCH_SESSIONS // math.ceil(settings.sessions_per_user)))
    with (
        atomic_path(users_path) as users_temp,
        atomic_path(sessions_path) as sessions_temp,
        users_temp.open("wb") as users_file,
        sessions_temp.open("wb") as sessions_file,
    ):
        writers = {}
        starts = range(0, settings.users, batch_users)
        for start in tqdm(starts, desc=f"synth {split}", unit="batch", disable=not progress):
            n = min(batch_users, settings.users - start)
            ids = _uuid4(rng, n)
            users = _users_batch(rng, ids, split, first_test_id=start + 1)
            counts = _session_counts(rng, n, settings)  # after the users: the draws stay in their order
            batches = (
                (users_file, ";", users),
                (sessions_file, ",", _sessions_batch(rng, ids, counts, queries, settings)),
            )
            for handle, sep, table in batches:
                if handle not in writers:
                    writers[handle] = _csv_writer(handle, sep, table.schema)
                writers[handle].write_table(table)
        for writer in writers.values():
            writer.close()
    return users_path, sessions_path


def _csv_writer(handle: BinaryIO, sep: str, schema: pa.Schema) -> pacsv.CSVWriter:
    """A CSV writer with the challenge's layout: plain header, no quotes (a value needing them fails)."""
    handle.write((sep.join(schema.names) + "\n").encode())
    options = pacsv.WriteOptions(include_header=False, delimiter=sep, quoting_style="none")
    return pacsv.CSVWriter(handle, schema, write_options=options)


def required_bytes(settings: SynthConfig, n_splits: int) -> int:
    """About how many bytes ``n_splits`` splits of ``settings`` take on disk (a little more, not less)."""
    low, high = _session_range(settings.sessions_per_user)
    sessions_per_user = (low + high) / 2 * (1 - settings.no_session_share)
    return math.ceil(n_splits * settings.users * (USER_ROW_BYTES + SESSION_ROW_BYTES * sessions_per_user))


def check_size(out_dir: Path, settings: SynthConfig, n_splits: int) -> None:
    """Refuse sizes outside the supported ranges, and data that would not fit in the free space under ``out_dir``."""
    if not 1 <= settings.users <= MAX_USERS:
        raise OptionError(f"must be between 1 and {MAX_USERS:,}, got {settings.users}", option="--users")
    if not 1 <= settings.sessions_per_user <= MAX_SESSIONS_PER_USER:  # NaN fails this too
        raise OptionError(
            f"must be between 1 and {MAX_SESSIONS_PER_USER}, got {settings.sessions_per_user}",
            option="--sessions-per-user",
        )
    needed = required_bytes(settings, n_splits)
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if needed > free:
        raise DataError(
            f"needs about {needed / 1e9:,.1f} GB for {settings.users:,} users x {n_splits} split(s), but only "
            f"{free / 1e9:,.1f} GB are free there: lower --users or --sessions-per-user, or choose another --out",
            path=out_dir,
        )


def split_sessions(sessions_csv: str | Path, out_dir: str | Path, parts: int, kind: str = "csv") -> tuple[Path, ...]:
    """A session CSV rewritten as ``parts`` files under ``out_dir``, as a cluster job exports it: CSV parts
    (cut at line ends, each with the header; one user's sessions may span two parts) or Parquet parts with
    typed columns. The parts appear together, all or none."""
    sessions_csv, out_dir = Path(sessions_csv), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
            return tuple(part.replace(out_dir / part.name) for part in _cut(sessions_csv, Path(scratch), parts))
    typed = {"page_views": pl.Int64, "session_duration": pl.Float64}
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch, all_or_nothing():
        written = []
        for part in _cut(sessions_csv, Path(scratch), parts):
            frame = pl.scan_csv(part, infer_schema=False).with_columns(
                pl.col("timestamp").str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT),
                *(pl.col(c).cast(t) for c, t in typed.items()),
            )
            with atomic_path(out_dir / f"{part.stem}.parquet") as temporary:
                frame.sink_parquet(temporary)
            part.unlink()
            written.append(out_dir / f"{part.stem}.parquet")
        return tuple(written)


def _cut(sessions_csv: Path, out_dir: Path, parts: int) -> tuple[Path, ...]:
    """``parts`` CSV files of about equal size, each with the header (into a scratch folder)."""
    written = []
    with sessions_csv.open("rb") as source:
        header = source.readline()
        share = max(1, (sessions_csv.stat().st_size - len(header)) // parts)
        for number in range(parts):
            target = out_dir / f"part-{number:05d}.csv"
            with target.open("wb") as handle:
                handle.write(header)
                remaining = share if number < parts - 1 else math.inf
                while remaining > 0 and (block := source.read(int(min(remaining, 1 << 24)))):
                    handle.write(block)
                    remaining -= len(block)
                handle.write(source.readline())  # the rest of the line the copy stopped in
            written.append(target)
    return tuple(written)


def generate(
    out_dir: str | Path, settings: SynthConfig, splits: tuple[Split, ...] = ("train", "test"), progress: bool = True
) -> dict[Split, tuple[Path, Path]]:
    """Write each split of ``splits`` (each with ``settings.users`` users) under ``out_dir``, all or nothing:
    the files replace earlier ones only once every one of them is written, and are on disk on return."""
    out_dir = Path(out_dir)
    check_size(out_dir, settings, len(splits))
    with all_or_nothing():
        return {split: write_split(out_dir, split, settings, progress) for split in splits}
