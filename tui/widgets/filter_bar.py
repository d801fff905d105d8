"""The filter bar (``/`` or F4): an Input for a filter in cdig's language and,
under it, what is wrong with the last one typed (message and caret). The view
keeps its last good filter."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from ..messages import FilterSubmitted


class FilterBar(Vertical):
    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter, e.g. proc.name=nginx and evt.failed=true "
                    "(Enter: apply, empty: clear, Esc: close)", id="filter-input")
        yield Static("", id="filter-error")

    def open(self, current: str) -> None:
        self.display = True
        inp = self.query_one(Input)
        inp.value = current
        inp.cursor_position = len(current)
        inp.focus()

    def close(self) -> None:
        self.display = False
        self.show_error("")

    def show_error(self, text: str) -> None:
        err = self.query_one("#filter-error", Static)
        # leading spaces place the caret under the column: keep them (no-break spaces)
        lines = [ln[: len(ln) - len(ln.lstrip(" "))].replace(" ", "\u00a0") + ln.lstrip(" ")
                 for ln in text.split("\n")]
        self._error = text
        err.update(Text("\n".join(lines), style="bold red", no_wrap=True))
        err.display = bool(text)

    @property
    def error_text(self) -> str:
        return getattr(self, "_error", "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(FilterSubmitted(event.value))
