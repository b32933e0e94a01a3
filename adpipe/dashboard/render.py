"""How the page becomes one HTML file: every section through the Jinja2 template ``templates/index.html.j2``,
with plotly.js embedded once (no CDN), so the file opens offline and can be mailed.

A figure is its plotly JSON in a ``<script type="application/json">`` beside an empty box of its height; the page's
script draws it (``Plotly.newPlot``) when it comes near the screen or its section is opened (IntersectionObserver),
and plotly.js itself is run after the load event, so the load event waits for neither (31 figures drawn on load
took 4.7 s; docs/report.md has the measurements).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import plotly.graph_objects as go
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from adpipe.explore.page import assets
from adpipe.io import write_bytes_atomic
from adpipe.sections.page import Missing, Quote, Section

_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def render(sections: Sequence[Section], *, title: str, sources: Sequence[str]) -> str:
    """The whole page as one HTML string: plotly.js once, then every section in order."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("adpipe.dashboard", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    numbers = itertools.count()

    def plot(fig: go.Figure) -> Markup:  # stable element ids: the same results give the same page
        div_id = f"figure-{next(numbers)}"
        spec = pio.to_json(fig, validate=False, pretty=False).replace("</", "<\\/")  # no "</script>" inside
        height = fig.layout.height or 450
        return Markup(
            f'<div class="lazy-figure" id="{div_id}" style="height: {height}px"></div>'
            f'<script type="application/json" id="{div_id}-data">{spec}</script>'
        )

    environment.filters["plot"] = plot
    environment.tests["missing"] = lambda panel: isinstance(panel, Missing)
    environment.tests["quote"] = lambda cell: isinstance(cell, Quote)
    environment.tests["words"] = _words
    template = environment.get_template("index.html.j2")
    style, script = assets()  # the explorers' (docs/explore.md), once, after them all
    return template.render(
        explore={"style": style, "script": script} if any(s.explorer for s in sections) else None,
        title=title,
        sections=sections,
        sources=sources,
        built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        plotlyjs=Markup(get_plotlyjs()),
        plotly_config=Markup(json.dumps(_PLOTLY_CONFIG)),
    )


def _words(cell: object) -> bool:
    """A table cell of words (a description, a verdict), set flush left; figures stay flush right to compare."""
    return isinstance(cell, str) and cell[:1] not in "+-−0123456789" and any(c.isalpha() for c in cell)


def write_page(path: Path, html: str) -> Path:
    """Write the page atomically, so a failed build leaves the previous one in place."""
    return write_bytes_atomic(path, html.encode("utf-8"))
