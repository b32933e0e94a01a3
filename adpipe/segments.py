"""User segments for targeting: KMeans on scaled profile or ClickStream features, and how real they are.

k is chosen by silhouette over a range unless given. Three checks say whether the segments exist in
the data or are just a partition KMeans always returns:

- silhouette, Davies–Bouldin and Calinski–Harabasz per k;
- stability: adjusted Rand between the segments and those of fits on bootstrap samples, each with
  another seed;
- the same clustering on column-shuffled data (each column permuted on its own: the same marginals,
  no joint structure), whose best silhouette says what "no segments" looks like on these columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.errors import DataError
from adpipe.io import load_model, save_model, write_csv, write_json
from adpipe.validation import mean_std
from features.clickstream import FEATURE_COLUMNS, load_split, user_features
from features.profiles import (
    CTR,
    INTEREST_PREFIX,
    PROFILE_FEATURES,
    TARGET,
    USER_ID,
    FeatureSpec,
    encoded_names,
    feature_frame,
    load_profiles,
    make_preprocessor,
)

TASK = "segments"
DEFAULT_K_RANGE = (2, 10)
N_INIT = 10
DEFAULT_BOOTSTRAPS = 20
DEFAULT_SHUFFLES = 5
# The structure rule. Silhouette above 0.5 is "a reasonable structure" (Kaufman & Rousseeuw); an
# adjusted Rand of 0.8 between bootstrap fits means the same users land together again.
SILHOUETTE_CLEAR = 0.5
STABILITY_CLEAR = 0.8
# The real best silhouette must beat the shuffled ones by 3 of their standard deviations, and by 0.02 at least.
NULL_MARGIN_SDS = 3.0
NULL_MARGIN_MIN = 0.02
# A feature describes a segment when the segment's mean is this many base standard deviations away.
DISTINCTIVE_SD = 0.5
DESCRIPTION_TERMS = 3


class Source(StrEnum):
    """Which users a segmentation is for."""

    profiles = "profiles"
    clickstream = "clickstream"


# Profiles: CTR and conversion rate are what a segment is targeted for, so they are reported, not clustered.
PROFILE_OUTCOMES = (CTR, TARGET)
SPECS = {
    Source.profiles: PROFILE_FEATURES.without(*PROFILE_OUTCOMES),
    Source.clickstream: FeatureSpec(numeric=FEATURE_COLUMNS),
}
SHORT_NAMES = {
    "Likes and Reactions": "likes",
    "Followed Accounts": "followed accounts",
    "Time Spent Online (hrs/weekday)": "weekday time online",
    "Time Spent Online (hrs/weekend)": "weekend time online",
    "Ad Interaction Time (sec)": "ad interaction time",
    "n_sessions": "session count",
    "n_ips": "IP count",
    "n_countries": "country count",
    "span_days": "days between first and last session",
}
WARNINGS = {
    "none": "no segment structure: the data cluster no better than their column-shuffled copies; "
    "the segments below are an arbitrary split of one population",
    "weak": "weak structure: better than shuffled data, but not well separated or not stable; "
    "use the segments as a convenient split, not as distinct populations",
}
ORDINAL_WORDS = {"Age": ("older", "younger"), "Income Level": ("higher income", "lower income")}
VALUE_FORMS = {"Language": "{} speakers"}


def model_path(source: Source) -> Path:
    return config.MODELS_DIR / f"segments_{source.value}.joblib"


def report_path(source: Source) -> Path:
    return config.REPORTS_DIR / f"segments_{source.value}.json"


def profile_path(source: Source) -> Path:
    return config.REPORTS_DIR / f"segments_{source.value}_profile.csv"


@dataclass(frozen=True)
class SegmentData:
    """The users to segment: raw input columns, outcomes reported per segment (never clustered), ids."""

    features: pd.DataFrame
    outcomes: pd.DataFrame
    ids: pd.Series
    spec: FeatureSpec
    origin: str


def _clickstream_folder(folder: Path) -> pd.DataFrame:
    if not folder.is_dir():
        raise DataError("expected a ClickStream folder holding user_*.csv and session_*.csv", path=folder)
    split = "train" if (folder / config.USERS_TRAIN_FILE).exists() else "test"
    loaded = load_split(folder, split)
    return user_features(loaded.users, loaded.sessions)


def load_source(source: Source, input_path: str | Path | None = None, *, outcomes_required: bool = True) -> SegmentData:
    """Profiles (a CSV) or ClickStream users (a split folder; by default train/ and test/ together).

    The ClickStream target is never read into the features: user_features holds inputs only.
    """
    spec = SPECS[source]
    if source is Source.profiles:
        path = Path(input_path) if input_path is not None else config.PROFILES_FILE
        table = load_profiles(path, target_required=outcomes_required)
        outcomes = table[[c for c in PROFILE_OUTCOMES if c in table]].reset_index(drop=True)
        return SegmentData(feature_frame(table, spec), outcomes, table[USER_ID], spec, str(path))
    folders = [Path(input_path)] if input_path is not None else [config.TRAIN_DIR, config.TEST_DIR]
    table = pd.concat([_clickstream_folder(folder) for folder in folders])
    ids = pd.Series(table.index, name="user_id")
    features = feature_frame(table.reset_index(drop=True), spec)
    origin = " + ".join(str(folder) for folder in folders)
    return SegmentData(features, pd.DataFrame(index=features.index), ids, spec, origin)


def parse_k_range(text: str) -> tuple[int, int]:
    """``"2-10"`` -> ``(2, 10)``."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--k-range must look like 2-10, got {text!r}")
    low, high = (int(p) for p in parts)
    if low < 2 or high < low:
        raise ValueError(f"--k-range needs 2 <= low <= high, got {text!r}")
    return low, high


def candidate_ks(k: int | None, k_range: str | None) -> list[int]:
    """The k values to try: the one given, or the range (2-10 by default)."""
    if k is not None and k_range is not None:
        raise ValueError("give --k or --k-range, not both")
    if k is not None:
        if k < 2:
            raise ValueError(f"--k must be at least 2, got {k}")
        return [k]
    low, high = parse_k_range(k_range) if k_range is not None else DEFAULT_K_RANGE
    return list(range(low, high + 1))


def check_ks(ks: Sequence[int], encoded: np.ndarray, origin: str) -> None:
    """Refuse a k the users cannot support (silhouette needs k below the number of distinct users)."""
    n_users = len(encoded)
    distinct = len(np.unique(encoded, axis=0))
    if max(ks) >= n_users:
        raise DataError(f"k={max(ks)} is not smaller than the number of users ({n_users})", path=origin)
    if max(ks) > distinct:
        raise DataError(f"k={max(ks)} is larger than the {distinct} distinct users", path=origin)


def _kmeans(k: int, seed: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)


def _silhouette(encoded: np.ndarray, labels: np.ndarray, seed: int) -> float:
    if len(np.unique(labels)) < 2:
        return 0.0
    return float(silhouette_score(encoded, labels, sample_size=min(len(encoded), 2000), random_state=seed))


def scores_per_k(encoded: np.ndarray, ks: Sequence[int], seed: int, progress: bool = True) -> list[dict[str, Any]]:
    """Silhouette (higher is better), Davies–Bouldin (lower), Calinski–Harabasz (higher) for each k."""
    rows = []
    for k in tqdm(ks, desc="k", disable=not progress, leave=False):
        labels = _kmeans(k, seed).fit_predict(encoded)
        rows.append(
            {
                "k": k,
                "silhouette": _silhouette(encoded, labels, seed),
                "davies_bouldin": float(davies_bouldin_score(encoded, labels)),
                "calinski_harabasz": float(calinski_harabasz_score(encoded, labels)),
            }
        )
    return rows


def stability(
    encoded: np.ndarray, k: int, labels: np.ndarray, seed: int, n_bootstraps: int, progress: bool = True
) -> dict[str, Any]:
    """Adjusted Rand between ``labels`` and the segments of fits on bootstrap samples (each its own seed)."""
    if n_bootstraps < 1:
        raise ValueError(f"--bootstraps must be at least 1, got {n_bootstraps}")
    rng = np.random.default_rng(seed)
    agreement = []
    for b in tqdm(range(n_bootstraps), desc="stability", disable=not progress, leave=False):
        sample = rng.choice(len(encoded), size=len(encoded), replace=True)
        refit = _kmeans(k, seed + 1 + b).fit(encoded[sample])
        agreement.append(adjusted_rand_score(labels, refit.predict(encoded)))
    return {
        "adjusted_rand": mean_std(agreement),
        "n_bootstraps": n_bootstraps,
        "method": "KMeans refitted on bootstrap samples (seed + 1 + b), all users re-assigned, compared with the fit",
    }


def shuffled_silhouettes(
    features: pd.DataFrame,
    prepare: Any,
    ks: Sequence[int],
    seed: int,
    n_shuffles: int,
    progress: bool = True,
) -> np.ndarray:
    """Silhouette per shuffle (rows) and k (columns) of the same clustering on column-shuffled raw data."""
    if n_shuffles < 1:
        raise ValueError(f"--shuffles must be at least 1, got {n_shuffles}")
    rng = np.random.default_rng(seed)
    out = np.zeros((n_shuffles, len(ks)))
    for s in tqdm(range(n_shuffles), desc="shuffled data", disable=not progress, leave=False):
        shuffled = features.apply(lambda column: rng.permutation(column.to_numpy()))
        encoded = prepare.transform(shuffled)
        for position, k in enumerate(ks):
            out[s, position] = _silhouette(encoded, _kmeans(k, seed).fit_predict(encoded), seed)
    return out


def structure_verdict(best_silhouette: float, shuffled_best: np.ndarray, adjusted_rand: float) -> dict[str, Any]:
    """The structure verdict (clear, weak or none) with the rule and the figures that decided it."""
    null = mean_std(shuffled_best)
    margin = max(NULL_MARGIN_SDS * null["std"], NULL_MARGIN_MIN)
    gap = best_silhouette - null["mean"]
    if gap <= margin:
        verdict = "none"
    elif best_silhouette >= SILHOUETTE_CLEAR and adjusted_rand >= STABILITY_CLEAR:
        verdict = "clear"
    else:
        verdict = "weak"
    return {
        "structure": verdict,
        "rule": (
            f"none if silhouette - shuffled silhouette <= max({NULL_MARGIN_SDS:g} x shuffled std, "
            f"{NULL_MARGIN_MIN}); else clear if silhouette >= {SILHOUETTE_CLEAR} and bootstrap adjusted Rand "
            f">= {STABILITY_CLEAR}; else weak"
        ),
        "silhouette": best_silhouette,
        "shuffled_silhouette": null,
        "gap": gap,
        "margin": margin,
        "adjusted_rand": adjusted_rand,
    }


def _term(column: str, z: float, value: float, spec: FeatureSpec) -> str:
    """A few words for one distinctive feature of a segment (``z`` > 0: above the base)."""
    up = z > 0
    if column in spec.ordinal:
        words = ORDINAL_WORDS.get(column, (f"higher {column}", f"lower {column}"))
        return words[0] if up else words[1]
    if column.startswith(INTEREST_PREFIX):
        interest = column.removeprefix(INTEREST_PREFIX)
        if up:
            return f"{'mostly' if value >= 0.5 else 'more'} into {interest}"
        return f"{'not' if value == 0 else 'less'} into {interest}"
    if "=" in column and column.split("=", 1)[0] in spec.nominal:
        source, category = column.split("=", 1)
        category = VALUE_FORMS.get(source, "{}").format(category)
        if up:
            return f"{'mostly' if value >= 0.5 else 'more'} {category}"
        return f"{'no' if value == 0 else 'fewer'} {category}"
    name = SHORT_NAMES.get(column, column.replace("_", " "))
    return f"{'high' if up else 'low'} {name}"


def describe(z: pd.Series, means: pd.Series, spec: FeatureSpec) -> str:
    """The segment's most distinctive features in words, one per input column, biggest first."""
    terms: list[str] = []
    used: set[str] = set()
    for column in z.abs().sort_values(ascending=False, kind="stable").index:
        if abs(z[column]) < DISTINCTIVE_SD or len(terms) == DESCRIPTION_TERMS:
            break
        source = column if column.startswith(INTEREST_PREFIX) else column.split("=", 1)[0]
        if source in used:
            continue
        used.add(source)
        terms.append(_term(column, float(z[column]), float(means[column]), spec))
    return ", ".join(terms) if terms else "close to the average user"


def _readable(data: SegmentData) -> pd.DataFrame:
    """Encoded but unscaled features (ranks, 0/1 indicators, raw numbers), for profiles and descriptions."""
    prepare = make_preprocessor(data.spec, scale=False).fit(data.features)
    return pd.DataFrame(prepare.transform(data.features), columns=encoded_names(prepare))


def profile_segments(data: SegmentData, labels: np.ndarray) -> pd.DataFrame:
    """One row per segment (and one for all users): size, share, outcomes, description, and per feature
    its mean (numeric) or mode (bands, categories) with how far it is from the whole base.

    "vs base (sd)" is the difference of means in base standard deviations (ordinal bands: of their ranks);
    "vs base (share)" the difference in the share of users with that value or interest.
    """
    readable = _readable(data)
    base_mean, base_std = readable.mean(), readable.std(ddof=0).replace(0, np.nan)
    spec = data.spec
    rows = []
    for segment in [None, *sorted(np.unique(labels))]:
        members = np.ones(len(labels), dtype=bool) if segment is None else labels == segment
        means = readable[members].mean()
        z = ((means - base_mean) / base_std).fillna(0.0)
        row: dict[str, Any] = {
            "segment": "all" if segment is None else int(segment),
            "size": int(members.sum()),
            "share": float(members.mean()),
        }
        for column in data.outcomes:
            row[f"mean {column}"] = float(data.outcomes.loc[members, column].mean())
        row["description"] = "all users" if segment is None else describe(z, means, spec)
        for column in spec.numeric:
            row[column] = float(means[column])
            row[f"{column} vs base (sd)"] = float(z[column])
        for column in spec.ordinal:
            row[column] = data.features.loc[members, column].mode().iloc[0]
            row[f"{column} vs base (sd)"] = float(z[column])
        for column in spec.nominal:
            mode = data.features.loc[members, column].mode().iloc[0]
            row[column] = mode
            row[f"{column} vs base (share)"] = float(means[f"{column}={mode}"] - base_mean[f"{column}={mode}"])
        for column in (c for c in readable.columns if c.startswith(INTEREST_PREFIX)):
            row[column] = float(means[column])
            row[f"{column} vs base (share)"] = float(means[column] - base_mean[column])
        rows.append(row)
    return pd.DataFrame(rows)


def assign_segments(model: Pipeline, metadata: dict[str, Any], features: pd.DataFrame) -> np.ndarray:
    """Segment numbers of ``features`` with a saved model (segments are numbered by size, 0 the largest)."""
    with threadpool_limits(limits=1):
        return np.asarray(metadata["relabel"])[model.predict(features)]


@dataclass(frozen=True)
class FittedSegments:
    """A fitted segmentation: the model, its size-ordered numbering, each user's segment, and the report."""

    model: Pipeline
    relabel: np.ndarray
    labels: np.ndarray
    report: dict[str, Any]


def fit_segments(
    data: SegmentData,
    ks: Sequence[int],
    seed: int = config.DEFAULT_SEED,
    n_bootstraps: int = DEFAULT_BOOTSTRAPS,
    n_shuffles: int = DEFAULT_SHUFFLES,
    progress: bool = True,
) -> FittedSegments:
    """Fit KMeans for each k, keep the best by silhouette (or the one given), and judge the structure."""
    with threadpool_limits(limits=1):  # one OpenMP/BLAS thread: the machine is shared
        prepare = make_preprocessor(data.spec).fit(data.features)
        encoded = prepare.transform(data.features)
        check_ks(ks, encoded, data.origin)
        per_k = scores_per_k(encoded, ks, seed, progress)
        best = max(range(len(ks)), key=lambda p: per_k[p]["silhouette"])
        k = ks[best]
        kmeans = _kmeans(k, seed).fit(encoded)
        shuffled = shuffled_silhouettes(data.features, prepare, ks, seed, n_shuffles, progress)
        stable = stability(encoded, k, kmeans.labels_, seed, n_bootstraps, progress)
    for position, row in enumerate(per_k):
        row["shuffled_silhouette"] = mean_std(shuffled[:, position])
    # Number segments by size so that 0 is the largest, the same way on every run.
    order = np.argsort(-np.bincount(kmeans.labels_, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    labels = relabel[kmeans.labels_]
    profile = profile_segments(data, labels)
    segments = profile[profile["segment"] != "all"]
    report = {
        "source": data.origin,
        "n_users": len(data.features),
        "features": data.spec.columns,
        "seed": seed,
        "n_init": N_INIT,
        "k_candidates": list(ks),
        "per_k": per_k,
        "chosen_k": k,
        "chosen_by": "the given --k" if len(ks) == 1 else "highest silhouette",
        "stability": stable,
        **structure_verdict(per_k[best]["silhouette"], shuffled.max(axis=1), stable["adjusted_rand"]["mean"]),
        "shuffles": {
            "n_shuffles": n_shuffles,
            "statistic": "best silhouette over the same k candidates, each column permuted on its own",
        },
        "segments": segments[
            ["segment", "size", "share", *(c for c in segments if c.startswith("mean ")), "description"]
        ].to_dict(orient="records"),
    }
    return FittedSegments(Pipeline([("prepare", prepare), ("kmeans", kmeans)]), relabel, labels, report)


def _load(source: Source, model_file: Path) -> tuple[Pipeline, dict[str, Any]]:
    model, metadata = load_model(model_file, task=TASK)
    if metadata.get("source") != source.value:
        raise DataError(f"is a {metadata.get('source')} segmentation, not {source.value}", path=model_file)
    return model, metadata


def fit(
    source: Source,
    input_path: Path | None,
    ks: Sequence[int],
    seed: int,
    n_bootstraps: int,
    n_shuffles: int,
    model_file: Path,
    report_file: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Load, fit, save the model and write the report."""
    data = load_source(source, input_path)
    fitted = fit_segments(data, ks, seed, n_bootstraps, n_shuffles, progress)
    report = fitted.report
    metadata = {
        "task": TASK,
        "source": source.value,
        "k": report["chosen_k"],
        "relabel": fitted.relabel.tolist(),
        "descriptions": {row["segment"]: row["description"] for row in report["segments"]},
        "structure": report["structure"],
        "features": data.spec.columns,
        "n_users": report["n_users"],
        "seed": seed,
    }
    save_model(model_file, fitted.model, metadata)
    write_json(report_file, report)
    return report


def assign(source: Source, input_path: Path, output: Path, model_file: Path) -> pd.DataFrame:
    """Write the segment (and its description) of every user in ``input_path``."""
    model, metadata = _load(source, model_file)
    data = load_source(source, input_path, outcomes_required=False)
    labels = assign_segments(model, metadata, data.features)
    table = pd.DataFrame(
        {
            data.ids.name: data.ids.to_numpy(),
            "segment": labels,
            "description": [metadata["descriptions"][int(s)] for s in labels],
        }
    )
    write_csv(output, table)
    return table


def profile(source: Source, input_path: Path | None, model_file: Path, output: Path) -> pd.DataFrame:
    """The profile table of the users in ``input_path`` (by default the fitted base) with the saved model."""
    model, metadata = _load(source, model_file)
    data = load_source(source, input_path)
    table = profile_segments(data, assign_segments(model, metadata, data.features))
    write_csv(output, table.round(4))
    return table


app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True)
SourceOption = typer.Option(Source.profiles, "--source", help="Which users to segment.")
ModelOption = typer.Option(None, "--model", help="Saved segmentation [default: models/segments_<source>.joblib].")


def _summary_table(table: pd.DataFrame) -> str:
    columns = ["segment", "size", "share", *(c for c in table if c.startswith("mean ")), "description"]
    return format_table(columns, table[columns].astype(object).to_numpy().tolist())


@app.command("fit")
def fit_command(
    source: Source = SourceOption,
    k: int | None = typer.Option(None, "--k", help="Number of segments (default: best silhouette over --k-range)."),
    k_range: str | None = typer.Option(None, "--k-range", help="Candidate k, as low-high [default: 2-10]."),
    seed: int = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of KMeans, bootstraps and shuffles."),
    input_path: Path | None = typer.Option(
        None, "--input", help="Profiles CSV, or a ClickStream folder [default: the project's data]."
    ),
    bootstraps: int = typer.Option(DEFAULT_BOOTSTRAPS, "--bootstraps", help="Bootstrap refits for stability."),
    shuffles: int = typer.Option(DEFAULT_SHUFFLES, "--shuffles", help="Column-shuffled copies for the null."),
    model: Path | None = ModelOption,
    report: Path | None = typer.Option(None, "--report", help="JSON report [default: reports/segments_<source>.json]."),
) -> None:
    """Choose k, fit KMeans, report the per-k scores, stability and structure verdict; save the model."""
    model = model or model_path(source)
    report = report or report_path(source)
    with exit_on_error(keeps=model):
        ks = candidate_ks(k, k_range)
        result = fit(source, input_path, ks, seed, bootstraps, shuffles, model, report)
    typer.echo(
        f"{result['n_users']} users, {len(result['features'])} input columns, KMeans n_init={N_INIT}, seed {seed}; "
        f"shuffled: {shuffles} column-shuffled copies"
    )
    rows = [
        [
            row["k"],
            row["silhouette"],
            row["shuffled_silhouette"]["mean"],
            row["davies_bouldin"],
            row["calinski_harabasz"],
        ]
        for row in result["per_k"]
    ]
    typer.echo(format_table(["k", "silhouette", "shuffled silhouette", "davies_bouldin", "calinski_harabasz"], rows))
    agreement = result["stability"]["adjusted_rand"]
    typer.echo(
        f"chosen k = {result['chosen_k']} ({result['chosen_by']}); stability: adjusted Rand "
        f"{agreement['mean']:.3f} ± {agreement['std']:.3f} over {bootstraps} bootstrap refits"
    )
    typer.echo(
        f"structure: {result['structure']} (silhouette {result['silhouette']:.4f} vs shuffled "
        f"{result['shuffled_silhouette']['mean']:.4f} ± {result['shuffled_silhouette']['std']:.4f}; "
        f"rule: {result['rule']})"
    )
    if result["structure"] in WARNINGS:
        typer.echo(f"warning: {WARNINGS[result['structure']]}")
    typer.echo(_summary_table(pd.DataFrame(result["segments"])))
    typer.echo(f"model -> {model}; report -> {report}")


@app.command("assign")
def assign_command(
    input_path: Path = typer.Option(..., "--input", help="Profiles CSV, or a ClickStream folder, to assign."),
    output: Path = typer.Option(..., "--output", help="CSV to write: id, segment, description."),
    source: Source = SourceOption,
    model: Path | None = ModelOption,
) -> None:
    """Segment of each new user with the saved model."""
    with exit_on_error(keeps=output):
        table = assign(source, input_path, output, model or model_path(source))
    counts = table["segment"].value_counts().sort_index().to_dict()
    typer.echo(f"assigned {len(table)} users (per segment: {counts}) -> {output}")


@app.command("profile")
def profile_command(
    source: Source = SourceOption,
    input_path: Path | None = typer.Option(None, "--input", help="Users to profile [default: the project's data]."),
    model: Path | None = ModelOption,
    output: Path | None = typer.Option(
        None, "--output", help="CSV to write [default: reports/segments_<source>_profile.csv]."
    ),
) -> None:
    """One row per segment: size, share, mean/mode of each feature and how it differs from the whole base."""
    output = output or profile_path(source)
    with exit_on_error(keeps=output):
        table = profile(source, input_path, model or model_path(source), output)
    typer.echo(_summary_table(table))
    typer.echo(f"every feature's mean/mode and its difference from the base -> {output}")
