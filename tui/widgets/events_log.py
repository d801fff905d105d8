"""The live events view: the ``cdig trace -pc`` lines of recent events.

A ``Log`` (plain text, no markup); lines are escaped by the trace formatter. Only
new lines are appended at each refresh; it follows the end unless the user has
scrolled up, and a paused display keeps what is there.
"""

from __future__ import annotations

from textual.widgets import Log


class EventsLog(Log):
    def __init__(self, *, max_lines: int = 5000, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=False, name=name, id=id,
                         classes=classes)
        self.last_num = -1
        self.key: object = None
        self.shown = 0

    def show(self, lines: list[tuple[int, str]], key: object) -> None:
        """``lines``: (evt.num, text), oldest first; ``key`` changes when the scope,
        filter or run changes (then the log starts again)."""
        at_end = self.is_vertical_scroll_end or self.shown == 0
        if key != self.key:
            self.clear()
            self.key = key
            self.last_num = -1
            self.shown = 0
        new = [text for n, text in lines if n > self.last_num]
        if new:
            self.write_lines(new, scroll_end=at_end)
            self.shown += len(new)
            self.last_num = lines[-1][0]
