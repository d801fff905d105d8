"""The top lines: source, totals, dropped events, cdig's own cost, play position."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusHeader(Static):
    """Two lines built by ``refresher.Refresher._header`` (a ``Text``: never markup)."""

    DEFAULT_CSS = ""

    def show(self, header: Text) -> None:
        self.update(header)
