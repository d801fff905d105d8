"""The help screen (``?`` or F1): every key, the views, the filter language."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..views import VIEWS

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "drill down: container → its processes → that process's syscalls"),
    ("Backspace", "go back up"),
    ("F2", "pick a view (or 1-9, or the command palette: Ctrl+P)"),
    ("/  F4", "filter in cdig's language, e.g. proc.name=nginx and evt.failed=true"),
    ("F5  e", "echo: the I/O events (reads, writes, sends, receives) of the selection"),
    ("F6  d", "dig: every recent event of the selection"),
    ("F7", "legend: what each column of this view means, and its unit"),
    ("F8", "actions on the selected process/container: kill, kill -9, renice, lsof, "
           "a shell in the container (asks first)"),
    ("Ctrl+F  F3", "find a row as you type / the next one"),
    ("\\", "show only the rows containing a text (empty: all rows)"),
    ("Home  End", "first / last row"),
    ("s  S", "sort by the next / previous column (or click a column header)"),
    ("r", "reverse the sort"),
    ("p", "pause the display (a replay: pause playing)"),
    ("space", "a replay: play / pause"),
    ("n", "a replay: step one interval forward"),
    ("?  F1", "this help"),
    ("q  F10", "quit"),
)


def help_text() -> Text:
    t = Text()
    t.append("cdig top — keys\n\n", style="bold")
    for k, what in KEYS:
        t.append(f"  {k:<11}", style="bold cyan")
        t.append(what + "\n")
    t.append("\nViews\n\n", style="bold")
    for v in VIEWS.values():
        t.append(f"  {v.key:<11}", style="bold cyan")
        t.append(v.title + "\n")
    t.append("\nRates are per second between two refreshes (the capture's clock in a "
             "replay).\nThe header counts events dropped by the kernel, and what cdig "
             "itself costs:\nthe CPU of this process and the run time of its BPF "
             "programs.\n\nEsc, q or ? closes this help.", style="dim")
    return t


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(), id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
