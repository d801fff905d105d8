"""The views of ``cdig top``: from snapshots to rows, with no Textual in sight.

``registry.VIEWS`` holds one ``View`` per view (columns, natural sort, builder,
drills, legend); ``build(view, ctx)`` turns the latest ``Snapshot`` (and the one
before it, for rates) into a ``ViewData``: columns, sorted rows capped at
``max_rows`` with their cells already rendered, a line of totals, and for each
row what Enter on it drills into.
"""

from .base import Col, Ctx, Drill, Row, Scope, View, ViewData
from .build import build, event_lines, legend_lines, render_cell
from .network import server_port
from .registry import VIEWS
from .syscalls import slot_percentile

__all__ = ["VIEWS", "Col", "Ctx", "Drill", "Row", "Scope", "View", "ViewData", "build",
           "event_lines", "legend_lines", "render_cell", "server_port", "slot_percentile"]
