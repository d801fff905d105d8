"""The main screen: header, breadcrumb, totals, the current view, filter bar, footer.

It holds the navigation state (csysdig's model): a stack of levels, each a view
and the scope the drill-down narrowed to. Enter pushes a level, Backspace pops
one, a view switch replaces the top level's view and keeps its scope. The app
asks ``request()`` what to build and hands back a Frame to ``show_frame``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from ..messages import FilterSubmitted
from ..refresher import Frame, Request
from ..views import VIEWS, Drill, Scope
from ..widgets.breadcrumb import Breadcrumb
from ..widgets.events_log import EventsLog
from ..widgets.filter_bar import FilterBar
from ..widgets.message_line import MessageLine
from ..widgets.search_bar import SearchBar
from ..widgets.status_header import StatusHeader, TextLine
from ..widgets.view_table import ViewTable

if TYPE_CHECKING:  # the app imports this screen
    from ..app import CdigTop


@dataclass
class Level:
    view: str
    scope: Scope
    label: str = ""  # the row drilled into to get here
    selected: str | None = None  # the row under the cursor when we drilled down from here
    row_text: str = ""  # this level's row text filter (\\); a drill-down starts without


class MainScreen(Screen):
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help"),
        Binding("f2", "pick_view", "Views"),
        Binding("slash,f4", "filter", "Filter"),
        Binding("backspace", "back", "Back"),
        # Enter with nothing focused (a bar just closed, focus not yet back): drill
        Binding("enter", "drill", "Drill", show=False),
        Binding("e,f5", "echo", "Echo"),
        Binding("d,f6", "dig", "Dig"),
        Binding("f7", "legend", "Legend"),
        Binding("ctrl+f", "search", "Find"),
        Binding("f3", "search_next", "Next", show=False),
        Binding("backslash", "row_filter", "Rows", show=False),
        Binding("f8", "actions", "Actions"),
        Binding("p", "pause", "Pause"),
        Binding("space", "play", "Play", show=False),
        Binding("n", "step", "Step"),
        Binding("s", "sort(1)", "Sort", key_display="s/S"),
        Binding("S", "sort(-1)", "Sort back", show=False),
        Binding("r", "reverse", "Rev"),
        Binding("escape", "close_filter", "Close", show=False),
        Binding("q,f10", "app.quit", "Quit"),
        *[Binding(v.key, f"view('{v.name}')", "Views" if v.key == "1" else v.title,
                  show=v.key == "1", key_display="1-9" if v.key == "1" else None)
          for v in VIEWS.values()],
    ]

    def __init__(self, start_view: str = "containers", live: bool = True) -> None:
        super().__init__()
        self.live = live
        self.levels: list[Level] = [Level(start_view, Scope())]
        self.sorts: dict[str, tuple[str, bool]] = {v.name: v.sort for v in VIEWS.values()}
        self.last_frame: Frame | None = None
        self.filter_text = ""
        self.search_text = ""
        self._gone_said: set[str] = set()

    if TYPE_CHECKING:  # this screen's app is always cdig top's: typed for its own methods
        app = getters.app(CdigTop)  # (Textual's way; at run time the base's property)

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader("", id="status")
        yield Breadcrumb("", id="crumb")
        yield TextLine("", id="totals")
        yield ViewTable(id="table")
        yield EventsLog(id="events")
        yield FilterBar(id="filter-bar")
        yield SearchBar(id="search")
        yield MessageLine("", id="message")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.query_one(SearchBar).display = False
        self._show_view_widgets()
        self.query_one(ViewTable).focus()

    @property
    def level(self) -> Level:
        return self.levels[-1]

    @property
    def view(self) -> str:
        return self.level.view

    def request(self, max_rows: int) -> Request:
        sort, desc = self.sorts[self.view]
        # a timer can fire while the app shuts down: the screen is still mounted but its
        # widgets are already gone, so look the table up without demanding it
        tables = self.query(ViewTable) if self.is_mounted else None
        window = tables.first().window() if tables else None
        return Request(self.view, self.level.scope, sort, desc, max_rows,
                       self.level.row_text, window)

    def _show_view_widgets(self) -> None:
        events = self.view == "events"
        self.query_one(ViewTable).display = not events
        self.query_one(EventsLog).display = events
        (self.query_one(EventsLog) if events else self.query_one(ViewTable)).focus()
        self._crumb()

    def _crumb(self, gone: str | None = None) -> None:
        path = [(a.view, b.label) for a, b in zip(self.levels, self.levels[1:], strict=False)]
        self.query_one(Breadcrumb).show(path, self.view, self.filter_text, gone,
                                        self.level.row_text)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("play", "step"):
            return not self.live  # hidden live: there is nothing to play
        return True

    # -- frames -----------------------------------------------------------------------
    def show_frame(self, frame: Frame) -> None:
        """Put a frame on screen (a stale one, for another view, is dropped)."""
        req = frame.request
        if req.view != self.view or req.scope != self.level.scope:
            return
        self.last_frame = frame
        self.query_one(StatusHeader).show(frame.header)
        totals = frame.data.totals + (f"   ({frame.data.note})" if frame.data.note else "")
        self.query_one("#totals", TextLine).set_text(Text(totals, no_wrap=True,
                                                          overflow="ellipsis"))
        if req.view == "events":
            # the log starts again when what it lists changes (echo: event lines
            # until the stream carries data, then the data)
            key = (frame.generation, req.scope, self.filter_text, frame.data.data_lines)
            self.query_one(EventsLog).show(frame.data.lines, key)
        else:
            table = self.query_one(ViewTable)
            sel = self.level.selected
            if sel is not None and sel in frame.data.meta:
                table.to_top = False  # back up: to the row drilled from
            table.apply(frame.data)
            if sel is not None and sel in frame.data.meta:
                table.move_to_key(sel)
                self.level.selected = None
        msg = self.query_one(MessageLine)
        for note in frame.notes:
            msg.say(note, "bold red")
            self.app.notify(note, severity="error", timeout=10)
        if frame.gone:
            self._crumb(frame.gone)
            if frame.gone not in self._gone_said:
                self._gone_said.add(frame.gone)
                msg.say(f"{frame.gone} — Backspace goes back up", "bold yellow")
        else:
            self._crumb()

    def say(self, text: str, style: str = "") -> None:
        """A line in the message bar (the app's errors, the screen's answers)."""
        self.query_one(MessageLine).say(text, style)

    def refresh_soon(self) -> None:
        self.app.refresh_soon()

    # -- navigation ---------------------------------------------------------------------
    def _selected_row(self):
        if self.view == "events" or self.last_frame is None:
            return None
        key = self.query_one(ViewTable).selected_key()
        return self.last_frame.data.meta.get(key) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_drill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        col = event.column_key.value or ""
        sort, desc = self.sorts[self.view]
        self.sorts[self.view] = (col, not desc) if col == sort else \
            (col, VIEWS[self.view].default_desc(col))
        self.refresh_soon()

    def action_drill(self) -> None:
        row = self._selected_row()
        if row is None or row.drill is None:
            return
        self.push(row.drill, row.key)

    def push(self, drill: Drill, from_key: str | None = None) -> None:
        self.level.selected = from_key
        self.levels.append(Level(drill.view, drill.target(self.level.scope), drill.label))
        self._after_move()

    def action_back(self) -> None:
        if len(self.levels) > 1:
            self.levels.pop()
            self._after_move(to_top=False)

    def action_view(self, view: str) -> None:
        if view not in VIEWS or view == self.view:
            return
        lvl = self.level
        self.levels[-1] = Level(view, lvl.scope.narrow(io=False), lvl.label,
                                row_text=lvl.row_text)
        self._after_move()

    def _after_move(self, to_top: bool = True) -> None:
        self.query_one(ViewTable).to_top = to_top
        self.query_one(MessageLine).clear_message()
        self._show_view_widgets()
        self.refresh_soon()

    def _selection_scope(self) -> tuple[Scope, str] | None:
        """The process (or container) the cursor or the scope is on, for echo/dig."""
        row = self._selected_row()
        scope = self.level.scope
        if row is not None and row.pid is not None:
            name = row.values.get("name") or row.values.get("proc") or ""
            return scope.narrow(pid=row.pid), f"{name} ({row.pid})"
        if row is not None and row.container is not None and self.view in ("containers",
                                                                             "security"):
            return scope.narrow(container=row.container), str(row.values.get("name", ""))
        if scope.pid is not None or scope.container is not None:
            return scope, self.level.label
        return None

    def action_echo(self) -> None:
        sel = self._selection_scope()
        if sel is None:
            self.query_one(MessageLine).say("echo: select a process first")
            return
        scope, label = sel
        self.push(Drill("events", scope.narrow(io=True), f"echo {label}"),
                  self.query_one(ViewTable).selected_key())

    def action_dig(self) -> None:
        sel = self._selection_scope()
        scope, label = sel if sel is not None else (self.level.scope, "all")
        self.push(Drill("events", scope, f"dig {label}"),
                  self.query_one(ViewTable).selected_key())

    def action_sort(self, step: int) -> None:
        view = VIEWS[self.view]
        cols = [c.key for c in view.columns]
        if not cols:
            return
        sort, _ = self.sorts[self.view]
        i = cols.index(sort) if sort in cols else -1
        col = cols[(i + step) % len(cols)]
        self.sorts[self.view] = (col, view.default_desc(col))
        self.refresh_soon()

    def action_reverse(self) -> None:
        sort, desc = self.sorts[self.view]
        self.sorts[self.view] = (sort, not desc)
        self.refresh_soon()

    # -- F8: actions ---------------------------------------------------------------
    def _target(self):
        from ..actions import Target

        row = self._selected_row()
        frame = self.last_frame
        conts = frame.snapshot.containers if frame is not None and frame.snapshot else {}
        if row is None:
            return None
        cid = row.container
        c = conts.get(cid, (None, {}))[0] if cid is not None else None
        if row.pid is not None:
            name = row.values.get("name") or row.values.get("proc") or "?"
            return Target(f"{name} ({row.pid})", row.pid, c)
        if c is not None:
            return Target(f"container {c.name or c.short_id}", None, c)
        return None

    def action_actions(self) -> None:
        from ..actions import applicable
        from .actions import ActionMenu

        msg = self.query_one(MessageLine)
        if not self.live:
            msg.say("actions: only live (this is a replay)")
            return
        target = self._target()
        if target is None:
            msg.say("actions: select a process or a container first")
            return
        acts = applicable(target)
        if not acts:
            msg.say("actions: nothing applies to this row")
            return
        self.app.push_screen(ActionMenu(acts, target.label),
                             lambda a: self._chosen(a, target))

    def _chosen(self, action, target) -> None:
        from ..actions import question
        from .actions import ConfirmLine

        if action is None:
            return
        if not action.confirm:
            self._do(action, target)
            return
        self.app.push_screen(ConfirmLine(question(action, target)),
                             lambda yes: self._do(action, target) if yes else
                             self.query_one(MessageLine).say("cancelled", "dim"))

    def _do(self, action, target) -> None:
        from ..actions import lsof_lines, run_action, shell_command
        from .actions import TextPopup

        msg = self.query_one(MessageLine)
        if action.key == "l":
            state = self.app.model.state
            fds = state.fds.get(target.pid) if state is not None else None
            self.app.push_screen(TextPopup(f"lsof {target.label}", lsof_lines(fds)))
            return
        if action.key == "b":
            import subprocess

            cmd = shell_command(target.container, target.pid)
            if cmd is None:
                msg.say(f"no way to open a shell in {target.label}")
                return
            with self.app.suspend():
                subprocess.run(cmd, check=False)
            msg.say(f"shell in {target.label} closed", "dim")
            return
        msg.say(run_action(action, target), "bold")
        self.refresh_soon()

    # -- Ctrl+F: find a row; \\: only the rows containing a text -----------------------
    def action_search(self) -> None:
        if self.view != "events":
            self.query_one(SearchBar).open("search", self.search_text)

    def action_row_filter(self) -> None:
        if self.view != "events":
            self.query_one(SearchBar).open("rows", self.level.row_text)

    def action_search_next(self) -> None:
        self._find(self.search_text, after_cursor=True)

    def _find(self, text: str, after_cursor: bool = False) -> bool:
        frame = self.last_frame
        if not text or frame is None or frame.request.view != self.view:
            return False
        table = self.query_one(ViewTable)
        needle = text.lower()
        rows = frame.data.rows
        start = table.cursor_row + 1 if after_cursor else 0
        order = list(range(start, len(rows))) + list(range(0, start))
        for i in order:
            if any(needle in c.plain.lower() for c in rows[i][1]):
                table.move_cursor(row=i)
                return True
        return False

    def on_search_bar_typed(self, message: SearchBar.Typed) -> None:
        msg = self.query_one(MessageLine)
        if message.mode == "search":
            self.search_text = message.text
            if message.text and not self._find(message.text):
                msg.say(f"not found: {message.text}", "bold yellow")
            elif message.text:
                msg.clear_message()
        elif message.done:
            self.level.row_text = message.text.strip()
            self.query_one(ViewTable).to_top = True
            self._crumb()
            self.refresh_soon()
        if message.done:
            table = self.query_one(ViewTable)
            table.focus()
            self.call_after_refresh(table.focus)  # after the bar is hidden

    def action_legend(self) -> None:
        from ..views import legend_lines
        from .actions import TextPopup

        self.app.push_screen(TextPopup(f"F7 legend: {VIEWS[self.view].title}",
                                       legend_lines(self.view)))

    def action_help(self) -> None:
        from .help import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_pick_view(self) -> None:
        from .picker import ViewPicker

        def chosen(view: str | None) -> None:
            if view:
                self.action_view(view)

        self.app.push_screen(ViewPicker(self.view), chosen)

    # -- filter, pause, play ---------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self.filter_text)

    def action_close_filter(self) -> None:
        bar = self.query_one(FilterBar)
        if bar.display:
            bar.close()
            self._show_view_widgets()

    def on_filter_submitted(self, message: FilterSubmitted) -> None:
        err = self.app.apply_filter(message.text)
        bar = self.query_one(FilterBar)
        if err is not None:
            bar.show_error(err)
            self.query_one("#filter-input", Input).focus()
            return
        self.filter_text = message.text.strip()
        bar.close()
        self._gone_said.clear()
        self.query_one(MessageLine).say(
            f"filter: {self.filter_text}" if self.filter_text else "filter cleared", "dim")
        self._show_view_widgets()
        self.refresh_soon()

    def action_pause(self) -> None:
        self.app.toggle_pause()

    def action_play(self) -> None:
        self.app.toggle_pause()

    def action_step(self) -> None:
        self.app.step()
