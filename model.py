"""The one entry point: the ClickStream main task, and each sibling task as a sub-command.

\b
python model.py predict      # train on train/, predict test/ -> predictions/predictions.json
python model.py validate     # repeated stratified K-fold: macro-F1 vs a majority baseline
python model.py --help       # every command
"""

from __future__ import annotations

import typer

from adpipe.bench import app as bench_app
from adpipe.cli_support import ErrorBoundary
from adpipe.clickstream import cli as clickstream_cli
from adpipe.clickstream.cli import features_command, synth_command
from adpipe.conversion import app as conversion_app
from adpipe.ctr import app as ctr_app
from adpipe.dashboard.cli import report_command
from adpipe.roas import app as roas_app
from adpipe.segments import app as segment_app
from adpipe.service import cli as service_cli
from adpipe.tuning.command import study_app

# One error boundary for every command (adpipe.cli_support, docs/errors.md). Help texts are plain text: Rich
# markup would swallow their "[default: ...]" notes.
app = typer.Typer(
    help=__doc__,
    cls=ErrorBoundary,
    rich_markup_mode=None,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
clickstream_cli.register(app)
app.add_typer(segment_app, name="segment")
app.add_typer(conversion_app, name="conversion")
app.add_typer(roas_app, name="roas")
app.add_typer(ctr_app, name="ctr")
app.command("synth")(synth_command)
app.command("features")(features_command)
app.add_typer(bench_app, name="bench")
app.add_typer(study_app, name="study")
app.command("report")(report_command)
service_cli.register(app)


def main() -> None:
    """The console script (``adpipe``) and ``python model.py``."""
    app()


if __name__ == "__main__":
    main()
