"""Fitting a segmentation (a protocol in, a typed report out), assigning new users and profiling segments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import load_model, write_csv
from adpipe.reference import WARNINGS_COLUMN, InputReference, PredictionReference, guard_rows
from adpipe.reports import write_report
from adpipe.segments.defaults import DEFAULT_BOOTSTRAPS, DEFAULT_SHUFFLES, TASK, Source
from adpipe.segments.models import N_INIT, assign_segments, make_segmenter, size_order
from adpipe.segments.profile import profile_segments, segment_rows
from adpipe.segments.report import SegmentsModel, SegmentsReport, Shuffles
from adpipe.segments.source import SegmentData, load_source
from adpipe.segments.structure import (
    check_ks,
    scores_per_k,
    shuffled_silhouettes,
    stability,
    structure_verdict,
)
from adpipe.versions import save_trained
from features.profiles import make_preprocessor

# What the reference's predictions are: clusters have no labels to hold out, so no folds.
IN_SAMPLE = "in-sample: the segment of every user the segmentation was fitted on (clusters have no labels to hold out)"


@dataclass(frozen=True)
class SegmentationProtocol:
    """The candidate k values and the seeds and sizes of the checks: every figure of the report depends on them."""

    ks: tuple[int, ...]
    seed: int = config.DEFAULT_SEED
    n_bootstraps: int = DEFAULT_BOOTSTRAPS
    n_shuffles: int = DEFAULT_SHUFFLES


@dataclass(frozen=True)
class FittedSegments:
    """A fitted segmentation: the model, its size-ordered numbering, each user's segment, and the report."""

    model: Pipeline
    relabel: np.ndarray
    labels: np.ndarray
    report: SegmentsReport


def fit_segments(data: SegmentData, protocol: SegmentationProtocol, progress: bool = True) -> FittedSegments:
    """Fit KMeans for each k, keep the best by silhouette (or the one given), and judge the structure."""
    ks, seed = list(protocol.ks), protocol.seed
    with threadpool_limits(limits=1):  # one OpenMP/BLAS thread: the machine is shared
        prepare = make_preprocessor(data.spec).fit(data.features)
        encoded = prepare.transform(data.features)
        check_ks(ks, encoded, data.origin)
        shuffled = shuffled_silhouettes(data.features, prepare, ks, seed, protocol.n_shuffles, progress)
        per_k = scores_per_k(encoded, ks, seed, shuffled, progress)
        best = max(range(len(ks)), key=lambda p: per_k[p].silhouette)
        k = ks[best]
        model = make_segmenter(data.spec, k, seed).fit(data.features)
        stable = stability(encoded, k, model[-1].labels_, seed, protocol.n_bootstraps, progress)
    relabel = size_order(model[-1].labels_, k)
    labels = relabel[model[-1].labels_]
    verdict = structure_verdict(per_k[best].silhouette, shuffled.max(axis=1), stable.adjusted_rand.mean)
    report = SegmentsReport(
        source=data.origin,
        n_users=len(data.features),
        features=data.spec.columns,
        seed=seed,
        n_init=N_INIT,
        k_candidates=ks,
        per_k=per_k,
        chosen_k=k,
        chosen_by="the given --k" if len(ks) == 1 else "highest silhouette",
        stability=stable,
        **vars(verdict),
        shuffles=Shuffles(
            n_shuffles=protocol.n_shuffles,
            statistic="best silhouette over the same k candidates, each column permuted on its own",
        ),
        segments=segment_rows(profile_segments(data, labels)),
    )
    return FittedSegments(model, relabel, labels, report)


def fit(
    source: Source,
    input_path: Path | None,
    protocol: SegmentationProtocol,
    model_file: Path,
    report_file: Path,
    progress: bool = True,
) -> SegmentsReport:
    """Load, fit, save the model and write the report."""
    data = load_source(source, input_path)
    fitted = fit_segments(data, protocol, progress)
    report = fitted.report
    saved = SegmentsModel(
        task=TASK,
        source=source.value,
        k=report.chosen_k,
        relabel=fitted.relabel.tolist(),
        descriptions={int(row["segment"]): str(row["description"]) for row in report.segments},
        structure=report.structure,
        features=data.spec.columns,
        n_users=report.n_users,
        seed=protocol.seed,
        reference=InputReference.from_frame(
            data.features[data.spec.guarded], PredictionReference.of(fitted.labels, IN_SAMPLE)
        ),
    )
    write_report(report_file, report)  # first: the version's card reads the figure of this fit
    save_trained(model_file, fitted.model, saved.model_dump(), data.paths)
    return report


def _load(source: Source, model_file: Path) -> tuple[Pipeline, SegmentsModel]:
    model, metadata = load_model(model_file, task=TASK)
    if metadata.get("source") != source.value:
        raise DataError(f"is a {metadata.get('source')} segmentation, not {source.value}", path=model_file)
    return model, SegmentsModel.model_validate(metadata)


def _segments(model: Pipeline, saved: SegmentsModel, data: SegmentData) -> pd.DataFrame:
    labels = assign_segments(model, saved.model_dump(), data.features)
    return pd.DataFrame(
        {
            data.ids.name: data.ids.to_numpy(),
            "segment": labels,
            "description": [saved.descriptions[int(s)] for s in labels],
        }
    )


def user_segments(source: Source, input_path: Path | None, model_file: Path) -> pd.DataFrame:
    """The segment and its description of every user in ``input_path`` with the saved model (what ``assign``
    writes, without its warnings): how another app slices by the project's segments."""
    model, saved = _load(source, model_file)
    return _segments(model, saved, load_source(source, input_path, outcomes_required=False))


def assign(source: Source, input_path: Path, output: Path, model_file: Path) -> tuple[pd.DataFrame, str]:
    """Write the segment (and its description) of every user in ``input_path``, with each user's warnings from
    the model's training reference; and their summary line."""
    model, saved = _load(source, model_file)
    data = load_source(source, input_path, outcomes_required=False)
    guarded = guard_rows(saved.reference, data.features)
    table = _segments(model, saved, data).assign(**{WARNINGS_COLUMN: guarded.messages})
    write_csv(output, table)
    return table, guarded.summary


def profile(source: Source, input_path: Path | None, model_file: Path, output: Path) -> pd.DataFrame:
    """The profile table of the users in ``input_path`` (by default the fitted base) with the saved model."""
    model, saved = _load(source, model_file)
    data = load_source(source, input_path)
    table = profile_segments(data, assign_segments(model, saved.model_dump(), data.features))
    write_csv(output, table.round(4))
    return table
