"""The view picker (F2): the views, with their number keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..views import VIEWS


class ViewPicker(ModalScreen[str | None]):
    BINDINGS = [Binding("escape,f2,q", "cancel", "Close")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        ol = OptionList(*[Option(f"{v.key}  {v.title}", id=v.name)
                          for v in VIEWS.values()], id="picker")
        ol.border_title = "Views"
        yield ol

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = list(VIEWS).index(self.current)
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
