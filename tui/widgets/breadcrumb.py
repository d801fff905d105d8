"""Where the drill-down is: ``Containers › web › Processes › nginx (42) › Syscalls``,
then the active filter."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from ..format import safe
from ..views import VIEWS
from .status_header import TextLine


class Breadcrumb(TextLine):
    def show(self, path: Sequence[tuple[str, str]], view: str, filter_text: str,
             gone: str | None = None, row_text: str = "") -> None:
        """``path``: (view, label of the row drilled into) for each level above."""
        t = Text(no_wrap=True, overflow="ellipsis")
        for v, label in path:
            t.append(VIEWS[v].title, style="dim")
            t.append(" › ", style="dim")
            t.append(safe(label, 32), style="bold")
            t.append(" › ", style="dim")
        t.append(VIEWS[view].title, style="bold reverse")
        if gone:
            t.append(f"  ({gone})", style="bold red")
        if filter_text:
            t.append("   filter: ", style="dim")
            t.append(safe(filter_text, 60), style="bold yellow")
        if row_text:
            t.append("   rows containing: ", style="dim")
            t.append(safe(row_text, 40), style="bold yellow")
        self.set_text(t)
