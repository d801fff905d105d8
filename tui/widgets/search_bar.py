"""Ctrl+F: find a row as you type (csysdig's incremental search), and ``\\``:
keep only the rows whose text contains a string (a row text filter).

One Input for both; ``mode`` says which. The text is matched, case-insensitive,
against the cells as shown, never interpreted (no regex, no filter language).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import Input


class SearchBar(Input):
    @dataclass
    class Typed(Message):
        mode: str  # "search" | "rows"
        text: str
        done: bool  # Enter or Esc: the bar closes

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = "search"

    def open(self, mode: str, current: str = "") -> None:
        self.mode = mode
        self.placeholder = ("find a row (as you type; Enter: keep, F3: next)"
                            if mode == "search" else
                            "show only rows containing… (Enter: apply, empty: all rows)")
        self.value = current
        self.cursor_position = len(current)
        self.display = True
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.display:
            self.post_message(self.Typed(self.mode, event.value, False))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.display = False
        self.post_message(self.Typed(self.mode, event.value, True))

    def key_escape(self) -> None:
        self.display = False
        self.post_message(self.Typed(self.mode, self.value if self.mode == "rows" else "",
                                       True))
