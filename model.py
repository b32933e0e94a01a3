"""The one entry point: the ClickStream main task, and each sibling task as a sub-command.

python model.py predict      # train on train/, predict test/ -> predictions/predictions.json
python model.py validate     # repeated stratified K-fold: macro-F1 vs a majority baseline
python model.py --help       # every command
"""

from __future__ import annotations

import typer

from adpipe import ctr_tuning
from adpipe.clickstream import cli as clickstream_cli
from adpipe.conversion import app as conversion_app
from adpipe.ctr import app as ctr_app
from adpipe.roas import app as roas_app
from adpipe.segments import app as segment_app
from adpipe.tuning.command import study_app
from features.synth import cli as synth_app

app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)
clickstream_cli.register(app)
app.add_typer(segment_app, name="segment")
app.add_typer(conversion_app, name="conversion")
app.add_typer(roas_app, name="roas")
ctr_app.command("tune")(ctr_tuning.tune_command)
app.add_typer(ctr_app, name="ctr")
app.add_typer(synth_app, name="synth")
app.add_typer(study_app, name="study")


if __name__ == "__main__":
    app()
