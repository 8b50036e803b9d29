"""screens/repaint.py: a changed text repaints the lines that changed, an unchanged one nothing; a
border title its top line; a table cell that cell. Counted as the regions Textual is asked to
repaint (Widget.refresh), so it cannot depend on timing."""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import DataTable

from screens.repaint import TextPane, set_border_title, update_cell


class Pane(App):
    CSS = "VerticalScroll { height: 8; width: 30; border: round white; }"

    def compose(self):
        with VerticalScroll():
            yield TextPane(Text("starting"), id="pane")
        table = DataTable(id="table")
        table.add_column("a", key="a", width=5)
        table.add_column("b", key="b", width=5)
        table.add_row("1", "2", key="r1")
        table.add_row("3", "4", key="r2")
        yield table


def record(widget) -> list[tuple]:
    calls: list[tuple] = []
    original = widget.refresh

    def refresh(*regions, **kwargs):
        calls.append((regions, kwargs.get("layout", False)))
        return original(*regions, **kwargs)

    widget.refresh = refresh
    return calls


async def test_a_text_pane_repaints_only_the_lines_that_changed_and_never_lays_out():
    app = Pane()
    async with app.run_test(size=(40, 20)) as pilot:
        pane = app.query_one(TextPane)
        pane.show(Text("one\ntwo\nthree"))
        await pilot.pause()
        height = pane.size.height
        assert height == 6  # its container's, not its text's
        calls = record(pane)
        assert pane.show(Text("one\ntwo\nthree")) is False and calls == []
        pane.show(Text("one\nTWO\nthree"))
        assert [(tuple(r.y for r in regions), layout) for regions, layout in calls] == [((1,), False)]
        calls.clear()
        pane.show(Text("one"))  # shorter: lines 1 and 2 go blank
        assert [(tuple(r.y for r in regions), layout) for regions, layout in calls] == [((1, 2), False)]
        calls.clear()
        pane.show(Text("\n".join(str(n) for n in range(40))))  # longer than it is: its scrollbar comes
        assert any(layout for _, layout in calls)
        await pilot.pause()
        assert pane.size.height == height and pane.virtual_size.height == 40 and pane.max_scroll_y > 0
        calls.clear()
        pane.show(Text("\n".join(f"line {n}" for n in range(30))))  # a scroll range again: no layout
        assert calls and not any(layout for _, layout in calls) and all(regions for regions, _ in calls)
        await pilot.pause()
        calls.clear()
        pane.show(Text("asking…"), hold=True)  # a placeholder keeps the scroll range
        assert calls and not any(layout for _, layout in calls) and pane.virtual_size.height == 30
        calls.clear()
        pane.show(Text("short"))  # fits: the scrollbar goes
        assert pane.virtual_size.height == 1
        await pilot.pause()
        assert line_of(pane, 0).strip() == "short" and pane.size.height == height


async def test_a_border_title_repaints_its_line_and_a_cell_itself():
    app = Pane()
    async with app.run_test(size=(40, 20)) as pilot:
        box = app.query_one(VerticalScroll)
        table = app.query_one(DataTable)
        set_border_title(box, Text("Title · 10:00:00"))
        await pilot.pause()
        box_calls, table_calls = record(box), record(table)
        set_border_title(box, Text("Title · 10:00:00"))
        assert box_calls == []
        set_border_title(box, Text("Title · 10:00:15"))
        assert [(regions[0].y, regions[0].height) for regions, _ in box_calls] == [(-1, 1)]  # the border line
        assert box.border_title == "Title · 10:00:15"
        update_cell(table, "r2", "b", Text("5"))
        assert table_calls and all(regions for regions, _ in table_calls)  # that cell, never all of it
        assert table.get_cell("r2", "b").plain == "5"
        await pilot.pause()
        # What the compositor takes from them (cached lines but the ones marked) shows both.
        assert "Title · 10:00:15" in line_of(box, 0)
        assert line_of(table, 2).split() == ["3", "5"]


def line_of(widget, y: int) -> str:
    return "".join(strip.text for strip in widget.render_lines(Region(0, y, widget.outer_size.width, 1)))


def test_joined_makes_one_segment_of_neighbours_that_look_the_same():
    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from screens.repaint import joined

    grey, bold = Style(color="grey50"), Style(color="grey50", bold=True)
    cells = [Segment(" fraud ", grey + Style(meta={"column": 0})), Segment(" ", grey + Style(meta={"column": 1})),
             Segment("detector", bold), Segment("  ", grey), Segment(" ", grey)]
    line = joined(Strip(cells))
    assert [(s.text, s.style.bold) for s in line] == [(" fraud  ", None), ("detector", True), ("   ", None)]
    assert line.text == Strip(cells).text and line.cell_length == Strip(cells).cell_length
    assert list(line)[0].style.meta == {"column": 0}  # a click still lands on the first cell's column
    unchanged = Strip([Segment("a", grey), Segment("b", bold)])
    assert joined(unchanged) is unchanged


class Rows(App):
    def compose(self):
        from screens.list_table import ListTable

        table = ListTable(id="rows", cursor_type="row")
        table.add_column("n", key="n", width=5)
        for n in range(4):
            table.add_row(str(n), key=str(n))
        yield table


async def test_a_cursor_key_repaints_the_rows_it_leaves_and_enters_only():
    """Textual's DataTable repaints its (hidden) hover row on every cursor key as well: a third row
    sent over SSH per key. A ListTable does not."""
    app = Rows()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one("#rows")
        table.focus()
        await pilot.pause()
        await pilot.press("down")  # row 0 -> 1
        await pilot.pause()
        painted: list[int] = []
        original = table.refresh_row

        def refresh_row(row_index):
            painted.append(row_index)
            return original(row_index)

        table.refresh_row = refresh_row
        await pilot.press("down")  # row 1 -> 2; the hover row (0) is not shown, so not repainted
        await pilot.pause()
        assert sorted(painted) == [1, 2]
