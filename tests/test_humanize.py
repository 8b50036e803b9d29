"""The one duration formatter, timestamp parser, merge patch and CLI table printer (issue 10 §1)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.timestamps import parse_timestamp
from console.commands.output import table
from console.humanize import age, duration
from console.merge_patch import merge_patch


@pytest.mark.parametrize(("seconds", "full", "short"), [
    (None, "", ""),
    (0, "0s", "0s"),
    (5, "5s", "5s"),
    (59.9, "59s", "59s"),
    (61, "1m 01s", "1m"),  # the CLI said "1m" and the Rollouts screen "61s": now both read 1m
    (3725, "1h 02m", "1h"),
    (90000, "1d 01h", "1d"),
    (-3, "0s", "0s"),  # a clock a little behind the server's
])
def test_duration_full_and_short(seconds, full, short):
    assert duration(seconds) == full
    assert duration(seconds, short=True) == short


def test_short_is_always_the_first_unit_of_the_full_form():
    for seconds in range(0, 3 * 86400, 37):
        assert duration(seconds).startswith(duration(seconds, short=True))


def test_age_from_a_timestamp():
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC).timestamp()
    assert age("2026-11-30T11:58:59Z", now) == "1m 01s"
    assert age("2026-11-30T11:58:59Z", now, short=True) == "1m"
    assert age(None, now) == "" and age("yesterday", now) == ""


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-30T12:00:00Z", datetime(2026, 11, 30, 12, tzinfo=UTC)),
    ("2026-11-30T12:00:00z", datetime(2026, 11, 30, 12, tzinfo=UTC)),
    ("2026-11-30T12:00:00", datetime(2026, 11, 30, 12, tzinfo=UTC)),  # no zone: UTC
    ("2026-11-30T13:00:00+01:00", datetime(2026, 11, 30, 12, tzinfo=UTC)),
    ("2026-11-30T12:00:00.123456789Z", datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)),  # protojson nanos
    ("  2026-11-30T12:00:00.5Z ", datetime(2026, 11, 30, 12, 0, 0, 500000, tzinfo=UTC)),
])
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("bad", [None, "", "  ", "garbage", "2026-13-01T00:00:00Z", 1700000000])
def test_parse_timestamp_rejects(bad):
    assert parse_timestamp(bad) is None


def test_merge_patch_follows_rfc_7386():
    target = {"a": {"b": 1, "c": [1, 2]}, "keep": True}
    patch = {"a": {"b": None, "d": {"e": 3}}, "new": [4]}
    result = merge_patch(target, patch)
    assert result == {"a": {"c": [1, 2], "d": {"e": 3}}, "keep": True, "new": [4]}
    assert target == {"a": {"b": 1, "c": [1, 2]}, "keep": True}  # inputs untouched
    result["a"]["c"].append(9)
    assert target["a"]["c"] == [1, 2]  # and nothing shared with them
    assert merge_patch({"a": 1}, [1]) == [1] and merge_patch([1], {"a": None}) == {}


def test_table_aligns_columns_and_keeps_each_row_one_line():
    lines = table([["NAME", "AGE"], ["fraud\x1b[2J\ndetector", "1m"], ["x", None]])
    name = "fraud\\x1b[2J\\x0adetector"  # made visible: one line, and nothing the terminal obeys
    assert lines == ["NAME".ljust(len(name)) + "  AGE", name + "  1m", "x"]
    assert table([]) == []
