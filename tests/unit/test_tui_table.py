"""ViewTable: rows updated in place, reordered through DataTable's private row map
(fenced: if Textual drops it, the table rebuilds its rows, and these tests fail so
that the fence is looked at), and the public moves the screen uses."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from cdig.tui.views import Col, ViewData
from cdig.tui.widgets.view_table import TwoWayDict, ViewTable

pytestmark = pytest.mark.tui

COLS = (Col("pid", "PID", "id"), Col("name", "NAME", "text", 16))


def data(rows: list[tuple[str, str]], name_width: int = 0) -> ViewData:
    cells = [(k, (Text(k), Text(n.ljust(name_width)))) for k, n in rows]
    return ViewData("procs", COLS, cells, {}, len(cells), "", "pid", True)


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield ViewTable(id="t")


def order(table: ViewTable) -> list[str]:
    return [r.key.value for r in table.ordered_rows]


async def test_reorder_takes_the_private_row_map_not_a_rebuild():
    assert TwoWayDict is not None, "textual._two_way_dict is gone: see view_table.py"
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ViewTable)
        table.apply(data([("1", "a"), ("2", "b"), ("3", "c")]))
        await pilot.pause()
        rows_before = dict(table.rows)
        table.apply(data([("3", "c"), ("1", "a"), ("2", "b")]))
        await pilot.pause()
        assert order(table) == ["3", "1", "2"]
        assert table.rebuilds == 0  # the private map was written, the rows kept
        assert isinstance(table._row_locations, TwoWayDict)
        assert dict(table.rows) == rows_before  # the same Row objects: nothing re-added
        # what is drawn follows the new order
        assert table.get_row_at(0)[0].plain == "3"


async def test_a_wider_cell_widens_its_column_in_place():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ViewTable)
        table.apply(data([("1", "a")]))
        await pilot.pause()
        assert hasattr(table, "_require_update_dimensions")  # the fenced flag it sets
        w0 = table.virtual_size.width
        table.apply(data([("1", "a")], name_width=30))
        await pilot.pause()
        assert table.columns[table.ordered_columns[1].key].width == 30
        assert table.virtual_size.width > w0


async def test_move_to_key_and_the_cursor_kept_on_its_row():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ViewTable)
        table.apply(data([("1", "a"), ("2", "b"), ("3", "c")]))
        await pilot.pause()
        assert table.cursor_row == 0  # to_top: a new view starts at its first row
        assert table.move_to_key("3") and table.selected_key() == "3"
        assert not table.move_to_key("9") and table.selected_key() == "3"
        table.apply(data([("3", "c"), ("2", "b"), ("1", "a")]))  # its row moved up
        await pilot.pause()
        assert table.selected_key() == "3" and table.cursor_row == 0
        assert isinstance(table, DataTable)


def drawn(table: ViewTable) -> list[str]:
    """The table's lines as painted (the header first)."""
    return [table.render_line(y).text.strip() for y in range(table.row_count + 1)]


async def test_a_changed_cell_is_the_only_cell_rendered_again():
    """DataTable re-rendered every cell on screen (the header's too) after any
    update_cell; here one changed cell costs one cell render, and only its row is
    repainted."""
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ViewTable)
        table.apply(data([("1", "a"), ("2", "b"), ("3", "c")]))
        await pilot.pause()
        assert drawn(table)[1:] == ["1      a", "2      b", "3      c"]
        n0 = table.cell_renders
        table.apply(data([("1", "a"), ("2", "B"), ("3", "c")]))
        await pilot.pause()
        assert drawn(table)[1:] == ["1      a", "2      B", "3      c"]
        assert table.cell_renders - n0 == 1
        assert table.get_row_at(1)[1].plain == "B"
        n1 = table.cell_renders
        table.apply(data([("1", "a"), ("2", "B"), ("3", "c")]))  # nothing changed
        await pilot.pause()
        assert table.cell_renders == n1


async def test_cells_kept_from_before_are_drawn_at_their_new_places():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(ViewTable)
        table.apply(data([("1", "a"), ("2", "b"), ("3", "c")]))
        await pilot.pause()
        drawn(table)
        table.apply(data([("3", "c"), ("1", "A"), ("2", "b")]))
        await pilot.pause()
        assert drawn(table)[1:] == ["3      c", "1      A", "2      b"]
        table.apply(data([("2", "b"), ("4", "d")]))  # two gone, one new
        await pilot.pause()
        assert drawn(table)[1:] == ["2      b", "4      d"]
        table.apply(data([("1", "a"), ("2", "b"), ("4", "d")]))  # one back, as before
        await pilot.pause()
        assert drawn(table)[1:] == ["1      a", "2      b", "4      d"]
