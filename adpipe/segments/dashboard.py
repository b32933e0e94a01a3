"""The segments section: is there structure in the users?

Read from ``reports/segments_<source>.json`` (:class:`~adpipe.segments.report.SegmentsReport`), the profile
tables ``reports/segments_<source>_profile.csv`` and the saved segment models. The 2-D projection is computed
here: PCA (unsupervised) of the inputs the saved model's own preprocessing makes, coloured by the segment it assigns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.decomposition import PCA

from adpipe import config
from adpipe.sections.page import (
    BASELINE_COLOUR,
    CLASS_COLOURS,
    MODEL_COLOUR,
    REFERENCE_COLOUR,
    Card,
    Missing,
    Panel,
    Quote,
    Section,
    Table,
    figure,
)
from adpipe.sections.sources import Sources
from adpipe.segments import SPEC
from adpipe.segments.defaults import TASK, Source, model_path, profile_path, report_path
from adpipe.segments.models import assign_segments
from adpipe.segments.report import SegmentsReport
from adpipe.segments.source import load_source

PROFILE_FEATURES = 6
SOURCE_NAMES = {"profiles": "ad-platform user profiles", "clickstream": "ClickStream users (train + test)"}
_Z_SUFFIX = " vs base (sd)"


def silhouette_by_k(report: SegmentsReport, source: str) -> Panel:
    ks = [row.k for row in report.per_k]
    shuffled = [row.shuffled_silhouette for row in report.per_k]
    fig = go.Figure()
    fig.add_scatter(
        x=ks,
        y=[s.mean for s in shuffled],
        error_y={"type": "data", "array": [3 * s.std for s in shuffled]},
        name="shuffled columns (± 3 std)",
        mode="lines+markers",
        line={"color": REFERENCE_COLOUR, "dash": "dot"},
    )
    fig.add_scatter(
        x=ks,
        y=[row.silhouette for row in report.per_k],
        name="real data",
        mode="lines+markers",
        line={"color": MODEL_COLOUR},
    )
    fig.add_vline(x=report.chosen_k, line_color=BASELINE_COLOUR, line_dash="dash")
    fig.update_xaxes(dtick=1)
    return Panel(
        title=f"Silhouette by k: {source}",
        caption=f"Structure is real only where the real silhouette clears the shuffled-data reference; verdict: "
        f"{report.structure} (gap {report.gap:.3f} at k={report.chosen_k}, margin {report.margin}).",
        basis=f"KMeans ({report.n_init} inits, seed {report.seed}) on {report.n_users} {SOURCE_NAMES[source]}; "
        f"reference: {report.shuffles.n_shuffles} fits with every column permuted on its own; bootstrap stability "
        f"(adjusted Rand) {report.stability.adjusted_rand.mean:.2f}.",
        figure=figure(fig, f"Silhouette by k, {SOURCE_NAMES[source]}", "number of segments k", "silhouette (-1 to 1)"),
    )


def projection(source: Source, model: Any, metadata: dict[str, Any], sources: Sources) -> Panel:
    # Profiles are read under the sources' root; ClickStream users from the project's train/ and test/ together.
    profiles = sources.path(config.PROFILES_FILE) if source is Source.profiles else None
    data = load_source(source, profiles, outcomes_required=False)
    labels = assign_segments(model, metadata, data.features)
    encoded = model.named_steps["prepare"].transform(data.features)
    points = PCA(n_components=2, random_state=metadata["seed"]).fit(encoded)
    xy = points.transform(encoded)
    fig = go.Figure()
    for segment, colour in zip(np.unique(labels), CLASS_COLOURS, strict=False):
        at = labels == segment
        fig.add_scatter(
            x=xy[at, 0],
            y=xy[at, 1],
            mode="markers",
            name=f"segment {segment} ({at.sum()})",
            marker={"color": colour, "size": 5, "opacity": 0.6},
        )
    explained = points.explained_variance_ratio_
    return Panel(
        title=f"Segments in 2-D: {source.value}",
        caption="Users on the two directions of largest variance of the model's inputs; well separated colours "
        "mean distinct segments, mixed colours mean the split is arbitrary.",
        basis=f"PCA of the saved model's preprocessed inputs ({explained.sum():.0%} of the variance shown); "
        f"segments assigned by the saved KMeans; descriptive.",
        figure=figure(
            fig, f"Segments projected on 2 principal components, {source.value}", "component 1", "component 2"
        ),
    )


def profile_table(profile: pd.DataFrame, source: str) -> Panel:
    scores = [c for c in profile.columns if c.endswith(_Z_SUFFIX)]
    segments = profile[profile["segment"].astype(str) != "all"]
    spread = segments[scores].abs().max().sort_values(ascending=False).index[:PROFILE_FEATURES]
    header = ["segment", "users", "share", "description", *(c.removesuffix(_Z_SUFFIX) for c in spread)]
    rows = [
        [row["segment"], row["size"], f"{row['share']:.0%}", row["description"], *(f"{row[c]:+.2f}" for c in spread)]
        for _, row in segments.iterrows()
    ]
    return Panel(
        title=f"Segment profiles: {source}",
        caption=f"Each segment against all users on the {len(spread)} inputs that separate them most, in standard "
        "deviations (or share differences for categories) from the whole population.",
        basis=f"reports/segments_{source}_profile.csv; descriptive.",
        table=Table(header, rows),
        wide=True,  # ten columns and a sentence per segment: the full width, never cut at the edge
    )


def cards(reports: dict[str, SegmentsReport | Missing], quote: Quote | None) -> list[Card]:
    """One card per source; the served source's (profiles) quotes the task's headline."""
    result = []
    for source, report in reports.items():
        if isinstance(report, Missing):
            result.append(Card(f"Segments: {source}", "not fitted yet", "-", f"run {report.command}", None))
            continue
        reference = report.shuffled_silhouette
        verdict = f"k={report.chosen_k}; structure: {report.structure}"
        if source == Source.profiles.value and quote is not None:
            result.append(Card.quoting(f"Segments: {source}", quote, verdict, report.structure != "none"))
            continue
        result.append(
            Card(
                f"Segments: {source}",
                f"k={report.chosen_k}, silhouette {report.silhouette:.3f}",
                f"shuffled columns {reference.mean:.3f} ± {reference.std:.3f}",
                f"structure: {report.structure}",
                report.structure != "none",
            )
        )
    return result


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The segments section and its overview cards."""
    panels: list[Panel | Missing] = []
    reports: dict[str, SegmentsReport | Missing] = {}
    for source in Source:
        name = source.value
        report = sources.report(report_path(source), SegmentsReport, f"Segments: {name}", "make segments")
        reports[name] = report
        if isinstance(report, Missing):
            panels.append(report)
            continue
        panels.append(silhouette_by_k(report, name))
        saved = sources.model(model_path(source), TASK, f"2-D: {name}", "make segments")
        panels.append(saved if isinstance(saved, Missing) else projection(source, *saved, sources))
        profile = sources.csv(profile_path(source), f"Profiles: {name}", "make segments")
        panels.append(profile if isinstance(profile, Missing) else profile_table(profile, name))
    intro = (
        "Segments of users (KMeans) judged against the same data with its columns shuffled: is there structure "
        "in the users?"
    )
    quote = sources.quote(SPEC)
    return Section("segments", "Segments", intro, panels, quote=quote), cards(reports, quote)
