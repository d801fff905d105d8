"""One line for what the user must not miss: a bad capture, an exited container,
a collector error. Stays until replaced or cleared."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ..format import safe


class MessageLine(Static):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.text = ""

    def say(self, text: str, style: str = "bold") -> None:
        self.text = safe(text)
        self.update(Text(self.text, style=style, no_wrap=True, overflow="ellipsis"))
        self.set_class(bool(text), "-shown")

    def clear_message(self) -> None:
        self.text = ""
        self.update("")
        self.set_class(False, "-shown")
