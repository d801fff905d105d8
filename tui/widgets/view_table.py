"""A DataTable that is updated in place: rows keyed, only changed cells rewritten,
rows reordered without being rebuilt, the cursor kept on the same row.

Where the cursor goes (csysdig's and htop's habit): after a sort change and on
entering a view the cursor is on the first row and the view at the top
(``to_top``); between refreshes it stays on its row (the process looked at),
scrolling only as far as keeps that row in sight. Home/End: first/last row.

With thousands of rows a rebuild at every refresh costs more than the refresh
interval; here a refresh costs what changed. DataTable keys its render caches on
one counter that every cell update bumps, and ``update_cell`` repaints the whole
widget: so one changed number re-rendered every cell on screen, the header's too
(most of an idle ``cdig top``'s drawing). Here changed cells are written into
DataTable's data directly, only the changed rows' regions are repainted, and a
cell's render is kept until that cell changes (``_render_cell``: keyed by the
cell's own version, its place and its style). The view caps the rows it sends.
Column widths are fixed and computed here from the cells' lengths (one pass):
DataTable's own auto-width re-measures a whole column for every updated cell that
got narrower, which is quadratic in the rows (seconds at 2,000 rows).
"""

from __future__ import annotations

from itertools import count
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from ..views import Col, ViewData

try:  # the order of rows is DataTable's private state; rebuild when it moves
    from textual._two_way_dict import TwoWayDict
except ImportError:  # pragma: no cover
    TwoWayDict = None  # type: ignore[assignment,misc]


def _label(c: Col, sort: str, desc: bool) -> Text:
    mark = (" ▼" if desc else " ▲") if c.key == sort else "  "
    return Text(c.label + mark, style="bold" if c.key == sort else "", no_wrap=True,
                justify="left" if c.kind in ("text", "spark") else "right")


class ViewTable(DataTable):
    # DataTable's own Enter (select the row: the screen drills down), shown in the footer
    BINDINGS = [Binding("enter", "select_cursor", "Drill", show=True),
                Binding("home", "first_row", "First row", show=False),
                Binding("end", "last_row", "Last row", show=False)]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, cursor_type="row", **kwargs)
        self.view = ""
        self._colspec: tuple[tuple[str, str], ...] = ()
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._order: list[str] = []
        self._sort: tuple[str, bool] = ("", False)
        self.to_top = True  # the next apply puts the cursor on the first row
        # reorders done by rebuilding the rows: the fallback when DataTable's private
        # row map is not there (a test asserts it stays 0: the fast path is taken)
        self.rebuilds = 0
        # each cell's version (a new one when it is added or changes) and the cells'
        # renders by version; the header's version changes with its labels
        self._gen = count(1)
        self._ver: dict[tuple[str, str], int] = {}
        self._header_ver = next(self._gen)
        self._rendered: LRUCache[tuple[Any, ...], Any] = LRUCache(4096)
        self.cell_renders = 0  # cells rendered (not from the cache): the tests read it
        # DataTable's own cell cache only ever hits within one update: keep it small
        self._cell_render_cache = LRUCache(256)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style,
                     width: int, cursor: bool = False, hover: bool = False) -> Any:
        if column_index < 0:  # row labels (none shown)
            return super()._render_cell(row_index, column_index, base_style, width,
                                        cursor, hover)
        col = self._column_locations.get_key(column_index)
        ck = col.value if col is not None else None
        rk: str | None = None
        if row_index < 0:
            ver = self._header_ver
        else:
            row_key = self._row_locations.get_key(row_index)
            rk = row_key.value if row_key is not None else None
            ver = self._ver.get((rk, ck), 0) if rk is not None and ck is not None else 0
        key = (row_index, column_index, rk, ck, ver, base_style, width, cursor, hover,
               self._show_hover_cursor, self._pseudo_class_state, self.app.theme)
        lines = self._rendered.get(key)
        if lines is None:
            self.cell_renders += 1
            lines = super()._render_cell(row_index, column_index, base_style, width,
                                         cursor, hover)
            self._rendered[key] = lines
        return lines

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, column=0, scroll=False)
        self.scroll_to(0, 0, animate=False)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def window(self) -> tuple[int, int]:
        """The rows on screen, [start, stop) (with a screen's margin below: a
        scroll shows filled rows at once)."""
        start = max(0, int(self.scroll_offset.y))
        height = max(self.size.height, 1)
        return start, start + 2 * height

    def move_to_key(self, key: str) -> bool:
        """Put the cursor on the row ``key`` (False: no such row shown)."""
        try:
            row = self._order.index(key)
        except ValueError:
            return False
        if row != self.cursor_row:
            self.move_cursor(row=row, animate=False)
        return True

    def apply(self, data: ViewData) -> None:
        colspec = tuple((c.key, c.label) for c in data.columns)
        keep = self.selected_key()
        widths = [len(c.label) + 2 for c in data.columns]
        for _k, cells in data.rows:
            for i, cell in enumerate(cells):
                n = cell.cell_len
                if n > widths[i]:
                    widths[i] = n
        if colspec != self._colspec or data.view != self.view:
            self.clear(columns=True)
            for c, w in zip(data.columns, widths, strict=True):
                self.add_column(_label(c, data.sort, data.desc), key=c.key, width=w)
            self._colspec, self.view = colspec, data.view
            self._cells, self._order = {}, []
            self._ver = {}
            self._header_ver = next(self._gen)
            self._sort = (data.sort, data.desc)
            keep = None
        else:
            if self._sort != (data.sort, data.desc):
                self.to_top = True  # a new order: start from its top
                for c in data.columns:
                    self.columns[ColumnKey(c.key)].label = _label(c, data.sort, data.desc)
                self._sort = (data.sort, data.desc)
                self._header_ver = next(self._gen)
                self.refresh()
            resized = False
            for c, w in zip(data.columns, widths, strict=True):
                col = self.columns[ColumnKey(c.key)]
                if col.width != w:
                    col.width = w
                    resized = True
            if resized:
                self._require_update_dimensions = True
                self.refresh(layout=True)
        keys = [k for k, _ in data.rows]
        wanted = set(keys)
        gone = [k for k in self._cells if k not in wanted]
        if gone and len(gone) > 64 and len(gone) * 2 > len(self._cells):
            self.clear()  # most rows went: cheaper to add the rest again
            self._cells = {}
            self._ver = {}
        else:
            for k in gone:
                self.remove_row(k)
                del self._cells[k]
        colkeys = [c.key for c in data.columns]
        changed: list[str] = []
        for key, cells in data.rows:
            old = self._cells.get(key)
            if old is None:
                self.add_row(*cells, key=key)
                for ck in colkeys:
                    self._ver[(key, ck)] = next(self._gen)
            elif old != cells:
                # DataTable.update_cell, less its repaint of the whole widget
                row = self._data[RowKey(key)]
                for ck, a, b in zip(colkeys, old, cells, strict=True):
                    if a != b:
                        row[ColumnKey(ck)] = b
                        self._ver[(key, ck)] = next(self._gen)
                changed.append(key)
            self._cells[key] = cells
        if gone:
            for k in gone:
                for ck in colkeys:
                    self._ver.pop((k, ck), None)
        if changed:
            self._update_count += 1  # DataTable's own caches: stale for these rows
        self._reorder(keys)
        for key in changed:  # repaint only these rows (a reorder repainted everything)
            at = self._row_locations.get(RowKey(key))
            if at is not None:
                self.refresh_row(at)
        if self.to_top:
            self.to_top = False
            if self.row_count:
                self.move_cursor(row=0, scroll=False)
            self.scroll_to(y=0, animate=False, immediate=True)
        elif keep is not None and keep in wanted:
            self.move_to_key(keep)

    def _reorder(self, keys: list[str]) -> None:
        current = [r.key.value for r in self.ordered_rows]
        self._order = keys
        if current == keys:
            return
        if TwoWayDict is not None and hasattr(self, "_row_locations"):
            self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(keys)})
            self._update_count += 1
            self.refresh()
            return
        cells = self._cells  # pragma: no cover - a Textual without the private map
        self.rebuilds += 1
        self.clear()
        for k in keys:
            self.add_row(*cells[k], key=k)
