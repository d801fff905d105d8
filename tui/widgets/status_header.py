"""The top lines: source, totals, dropped events, cdig's own cost, play position."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class TextLine(Static):
    """Lines of a fixed height (the stylesheet's) showing a ``Text`` (never markup).
    Shown again only when it changed, and without a layout pass: its size does not
    depend on its text. At every refresh, on an idle host, most lines are unchanged,
    and a layout pass of the screen costs more than the rest of the refresh."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: Text | None = None

    def set_text(self, text: Text) -> None:
        if text == self._shown:
            return
        self._shown = text
        self.update(text, layout=False)


class StatusHeader(TextLine):
    """Two lines built by ``refresher.Refresher._header``."""

    DEFAULT_CSS = ""

    def show(self, header: Text) -> None:
        self.set_text(header)
