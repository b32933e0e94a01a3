"""The terminal views of the CTR reports (``ctr validate``, ``nested``, ``candidates``, ``holdout``,
``seed-approach``): plain-text tables read from the typed reports, as the commands print them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adpipe.cli_support import format_table

if TYPE_CHECKING:
    from adpipe.ctr.report import (
        CandidatesReport,
        HoldoutReport,
        NestedReport,
        ProbabilityFigures,
        SeedApproachReport,
        ValidationReport,
    )
    from adpipe.reports import MeanStd


FIGURE_COLUMNS = (
    "roc_auc", "±std", "pr_auc", "log_loss", "±std", "NE", "calib", "brier", "ece", "f1", "precision", "recall"
)  # fmt: skip


def _optional(value: MeanStd | float | None) -> object:
    """A figure older reports do not have: '-'."""
    if value is None:
        return "-"
    return value if isinstance(value, float) else value.mean


def _figure_row(name: str, protocol: str, f: ProbabilityFigures) -> list[object]:
    ranking = [f.roc_auc.mean, f.roc_auc.std, f.pr_auc.mean]
    probability = [f.log_loss.mean, f.log_loss.std, _optional(f.normalized_entropy), _optional(f.calibration_ratio)]
    return [name, protocol, *ranking, *probability, f.brier.mean, f.ece, f.f1.mean, f.precision.mean, f.recall.mean]


def render_validation(report: ValidationReport) -> str:
    """The terminal view of a validation report: both protocols, baselines, reliability, audit, warnings."""
    about, model = report.protocol, report.model
    balance = "close to balanced" if 0.4 <= about.clicked_share <= 0.6 else "imbalanced"
    described = model.name
    lines = [
        f"{about.n_rows} impressions ({about.clicked_share:.1%} clicked: {balance}), {report.duplicates_found} "
        f"exact duplicate rows; model: {described}, features {', '.join(model.features)}, imbalance "
        f"{model.imbalance}, calibration {model.calibration}",
        *(f"{name}{' (primary)' * (name == report.primary)}: {p.description}" for name, p in report.protocols.items()),
        "",
    ]
    names = {"model": described, "base_rate": "base rate (training click rate)", "logistic": "logistic (numeric)"}
    rows = []
    for key, name in names.items():
        for protocol, figures in report.protocols.items():
            rows.append(_figure_row(name, protocol, figures.model if key == "model" else figures.baselines[key]))
    lines.append(format_table(["model", "folds", *FIGURE_COLUMNS], rows))
    gap = report.random_minus_forward
    lines.append(
        f"{described}, random minus forward: ROC-AUC {gap['roc_auc']:+.4f}, PR-AUC {gap['pr_auc']:+.4f}, "
        f"log-loss {gap['log_loss']:+.4f}, Brier {gap['brier']:+.4f} (f1, precision, recall at the threshold below; "
        "baselines at 0.5)\nNE: log-loss over the entropy of the training click rate (below 1: better than that "
        "rate); calib: expected clicks / observed clicks (1: right on average)"
    )
    primary = report.protocols[report.primary].model
    lines += [
        f"\nreliability of {described}, {report.primary} folds (every held-out prediction; ECE {primary.ece:.4f}):",
        format_table(
            ["predicted", "n", "mean predicted", "observed click rate"],
            [[f"{b.lower:.1f}-{b.upper:.1f}", b.n, b.predicted, b.observed] for b in primary.reliability],
        ),
    ]
    if report.audit:
        lines.append(render_audit(report))
    lines += report.warnings
    report_rows = [[label, r.precision, r.recall, r.f1, r.support] for label, r in model.classification_report.items()]
    lines += [
        f"\n{report.primary} folds, threshold ({about.threshold}): {model.threshold.mean:.3f} ± "
        f"{model.threshold.std:.3f}",
        f"{described}: classification report (mean over folds; support summed over folds):",
        format_table(["clicked", "precision", "recall", "f1", "support"], report_rows),
    ]
    return "\n".join(lines)


def render_audit(report: ValidationReport) -> str:
    """The audit table and the flagged groups' reasons."""
    rows = [
        [
            *(row.group, row.forward_auc, row.random_auc, row.random_auc - row.forward_auc, row.new_values_auc),
            *(row.without_forward_auc, row.without_random_auc, "FLAGGED" if row.flagged else "ok"),
        ]
        for row in report.audit
    ]
    header = ["group", "alone: forward", "random", "random-forward", "new values", "without it: forward", "random", ""]
    everything = report.audit_all_groups
    lines = [
        "\naudit: ROC-AUC of each feature group alone, and of the model with all groups but it "
        "(forward folds, and the first random draw); 'new values': forward, held-out values never seen in training",
        format_table(header, rows),
    ]
    if everything is not None:
        lines.append(
            f"all groups: forward {everything.forward_auc:.4f}, random {everything.random_auc:.4f}, "
            f"new values {everything.new_values_auc:.4f}"
        )
    lines += [f"flagged {row.group}: {row.reason}" for row in report.audit if row.flagged]
    return "\n".join(lines)


def render_nested(report: NestedReport) -> str:
    """The terminal view of nested forward validation: each model over the outer windows, then each window."""
    rows = [
        [name, s.roc_auc.mean, s.roc_auc.std, s.log_loss.mean, s.log_loss.std, s.normalized_entropy.mean]
        + [s.calibration_ratio.mean]
        for name, s in report.models.items()
    ]
    windows = [
        [w.fold + 1, w.n_train, w.n_test, w.inner_score, *(w.scores[name].roc_auc for name in report.models)]
        for w in report.windows
    ]
    return "\n".join(
        [
            f"outer: {report.outer}",
            f"inner: {report.inner}; {report.trials} trials per window, maximising {report.metric}",
            format_table(["model", "roc_auc", "±std", "log_loss", "±std", "NE", "calib"], rows),
            f"'params file' ({report.params_file}) was chosen by a search on these same outer windows: "
            "its figure is optimistic; the nested search's is not.",
            format_table(
                ["window", "train rows", "test rows", f"inner {report.metric}", *(f"{n} AUC" for n in report.models)],
                windows,
            ),
        ]
    )


def render_candidates(report: CandidatesReport) -> str:
    """Each candidate on each protocol, and where its log-loss is above the logistic baseline's."""
    rows = [
        [name, protocol, f.roc_auc, f.log_loss, f.normalized_entropy, f.calibration_ratio]
        for name, by_protocol in report.candidates.items()
        for protocol, f in by_protocol.items()
    ]
    verdicts = []
    for name in report.candidates:
        if name != report.baseline:
            worse = report.worse_than_baseline(name)
            verdict = f"log-loss above the {report.baseline}'s on: {', '.join(worse)}" if worse else "nowhere worse"
            verdicts.append(f"{name}: {verdict}")
    return "\n".join(
        [
            *(f"{name}: {text}" for name, text in report.protocols.items()),
            format_table(["candidate", "protocol", "roc_auc", "log_loss", "NE", "calib"], rows),
            f"against the {report.baseline} (issue 24: a default may be worse on no protocol):",
            *verdicts,
        ]
    )


def render_holdout(report: HoldoutReport) -> str:
    """The terminal view of the export check."""
    seen = ", ".join(f"{column} {share:.0%}" for column, share in report.seen_in_training.items())
    rows = [
        [name, s.promised_auc.mean, s.promised_auc.std, s.roc_auc, s.roc_auc - s.promised_auc.mean, s.log_loss]
        + [_optional(s.normalized_entropy), _optional(s.calibration_ratio), s.brier]
        for name, s in report.models.items()
    ]
    return "\n".join(
        [
            f"export: {', '.join(report.months)}, {report.n_export} impressions "
            f"({report.clicked_share['export']:.1%} clicked); training: {report.n_train} earlier impressions "
            f"({report.clicked_share['train']:.1%} clicked), {report.n_removed_for_cities} more left out for "
            "sharing a city with the export",
            f"export values seen in training (share of rows): {seen}",
            f"default model's features: {', '.join(report.features)}",
            format_table(
                ["model", "promised (forward AUC)", "±std", "export AUC", "export - promised", "log_loss", "NE"]
                + ["calib", "brier"],
                rows,
            ),
            *(
                f"default minus logistic baseline, {d.metric}: {d.difference:+.4f} (95% paired bootstrap over the "
                f"export's rows, {d.resamples} resamples: {d.low:+.4f} to {d.high:+.4f})"
                for d in report.against_logistic
            ),
        ]
    )


def render_seed_approach(report: SeedApproachReport) -> str:
    """The terminal view of the seed approach's two figures."""
    leaky, honest = report.leaky, report.honest
    protocol = honest.protocol
    rows = [
        [f"leaky: {leaky.how}", leaky.accuracy, leaky.roc_auc],
        [
            f"honest: {protocol['folds']} folds x {protocol['repeats']} repeats, seed {protocol['seed']}, "
            "identical rows grouped",
            honest.accuracy.mean,
            honest.roc_auc.mean,
        ],
    ]
    return "\n".join(
        [f"random forest on {', '.join(report.features)}", format_table(["scored", "accuracy", "roc_auc"], rows)]
    )
