"""Timestamps are read as the contract says, by the fast path as by the general parser.

`parse_utc` (sql/macros.sql) reads the shapes exports write nearly every row in
(`2026-10-05T12:00:00` with `Z`, `+hh:mm`, `-hh:mm` or nothing) with one regular
expression and hands every other text to `parse_utc_general`. A user relies on both
giving the same instant: a 10M-row close takes the fast path, a hand-edited row the
general one, and the same instant must land in the same month.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from closebook.models import SQL_DIR


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    # Not UTC on purpose: the session's time zone must never change an instant.
    connection.execute("set TimeZone = 'Asia/Kolkata'")
    connection.execute((SQL_DIR / "macros.sql").read_text())
    return connection


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-05T12:00:00Z", datetime(2026, 10, 5, 12, 0)),
        ("2026-10-05T12:00:00", datetime(2026, 10, 5, 12, 0)),  # naive is UTC
        # 17:30 at +02:00 is 17:30 - 2 h = 15:30 UTC
        ("2026-10-14T17:30:00+02:00", datetime(2026, 10, 14, 15, 30)),
        # 23:30 at -05:00 is 23:30 + 5 h = 04:30 UTC the next day, in November
        ("2026-10-31T23:30:00-05:00", datetime(2026, 11, 1, 4, 30)),
        # Nepal, +05:45: 12:00 - 5 h 45 min = 06:15 UTC
        ("2026-10-05T12:00:00+05:45", datetime(2026, 10, 5, 6, 15)),
        # Kiribati, +14:00: 12:00 - 14 h = 22:00 UTC the day before
        ("2026-10-05T12:00:00+14:00", datetime(2026, 10, 4, 22, 0)),
        ("2026-10-05T12:00:00+14:30", None),  # beyond the easternmost zone
        ("2026-10-05T12:00:00+15:00", None),
        ("2026-02-29T00:00:00Z", None),  # 2026 is not a leap year
        ("2028-02-29T00:00:00Z", datetime(2028, 2, 29, 0, 0)),
        # other shapes: the general parser
        (" 2026-10-05T12:00:00Z ", datetime(2026, 10, 5, 12, 0)),
        ("2026-10-05 12:00", datetime(2026, 10, 5, 12, 0)),
        ("2026-10-05", datetime(2026, 10, 5, 0, 0)),
        ("2026-10-05T12:00:00.250+0100", datetime(2026, 10, 5, 11, 0, 0, 250000)),
        ("10/05/2026", None),
    ],
)
def test_known_instants(con, text, expected):
    assert con.execute("select parse_utc(?)", [text]).fetchone()[0] == expected


def test_fast_path_gives_the_general_parsers_answer_on_a_grid_of_fields(con):
    """Every field at its edges (valid and not): year, month, day, hour, minute, second,
    and zones in and out of -14:00..+14:00. 4 x 6 x 6 x 4 x 3 x 4 x 13 = 89,856 texts."""
    grid = """
        select y || '-' || mo || '-' || d || 'T' || h || ':' || mi || ':' || s || z as text
        from unnest(['0001', '1900', '2024', '9999']) as y(y)
        cross join unnest(['00', '01', '02', '09', '12', '13']) as mo(mo)
        cross join unnest(['00', '01', '28', '29', '31', '32']) as d(d)
        cross join unnest(['00', '23', '24', '25']) as h(h)
        cross join unnest(['00', '59', '60']) as mi(mi)
        cross join unnest(['00', '30', '59', '60']) as s(s)
        cross join unnest(['', 'Z', '+00:00', '-00:00', '+05:45', '-09:30', '+13:59',
                           '+14:00', '-14:00', '+14:01', '-14:30', '+15:00', '+09:60']) as z(z)
    """
    total, parsed, differing, example = con.execute(
        f"""
        select
            count(*),
            count(parse_utc(text)),
            count(*) filter (where parse_utc(text) is distinct from parse_utc_general(text)),
            any_value(text) filter (
                where parse_utc(text) is distinct from parse_utc_general(text)
            )
        from ({grid})
        """
    ).fetchone()
    assert total == 89_856
    # both valid and invalid texts are in the grid (the comparison below means something)
    assert 0 < parsed < total
    assert differing == 0, example
