"""F8: the action menu, its confirmation line, and lsof's listing."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..actions import Action
from ..format import safe


class ActionMenu(ModalScreen["Action | None"]):
    """The actions that apply to the selection; Enter or an action's key picks."""

    BINDINGS = [Binding("escape,f8,q", "cancel", "Close")]

    def __init__(self, actions: list[Action], label: str) -> None:
        super().__init__()
        self.actions = actions
        self.label = label

    def compose(self) -> ComposeResult:
        ol = OptionList(*[Option(Text(f"{a.key}  {a.label}"), id=str(i))
                          for i, a in enumerate(self.actions)], id="actions")
        ol.border_title = f"Actions: {safe(self.label, 40)}"
        yield ol

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_key(self, event: events.Key) -> None:
        for a in self.actions:
            if event.character == a.key:
                event.stop()
                self.dismiss(a)
                return

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.actions[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmLine(ModalScreen[bool]):
    """One line at the bottom: y does it, any other key does not."""

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        yield Static(Text(safe(self.question), style="bold yellow", no_wrap=True,
                          overflow="ellipsis"), id="confirm")

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(event.character in ("y", "Y"))


class TextPopup(ModalScreen[None]):
    """A listing (lsof) over the table; Esc or q closes it."""

    BINDINGS = [Binding("escape,q,l,f7", "dismiss", "Close")]

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="popup-box") as box:
            box.border_title = safe(self.title_text, 60)
            yield Static(Text("\n".join(safe(ln) for ln in self.lines), no_wrap=True),
                         id="popup-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
