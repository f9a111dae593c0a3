"""Calendar weeks against Python's own calendar."""

import datetime as dt

import numpy as np
import pandas as pd

from study.core.weeks import week_start


def python_monday(moment) -> pd.Timestamp:
    """Monday 00:00 of a timestamp's ISO week, by the standard library's date arithmetic."""
    if pd.isna(moment):
        return pd.NaT
    day = moment.date()
    return pd.Timestamp(day - dt.timedelta(days=day.weekday()))


def test_each_time_goes_to_the_monday_of_its_iso_week_before_and_after_1970_and_nat_stays():
    rng = np.random.default_rng(3)
    edges = ["1969-12-28 23:59:59.999999", "1969-12-29", "1970-01-01", "1970-01-04 23:59", "1970-01-05",
             "1900-03-01 12:00", "2026-11-29 23:59:59.999999", "2026-11-30", "2024-02-29 08:00"]
    random = pd.to_datetime(rng.integers(-2 * 10**18, 2 * 10**18, 500), unit="ns")
    for unit in ("ns", "us", "s"):
        times = pd.Series([*pd.to_datetime(edges, format="ISO8601"), pd.NaT, *random],
                          index=np.arange(510) * 2, name="created_at").astype(f"datetime64[{unit}]")
        got = week_start(times)
        expected = times.map(python_monday).astype("datetime64[ns]")
        pd.testing.assert_series_equal(got, expected)
        assert got.dt.day_of_week.dropna().eq(0).all() and got.isna().sum() == 1


def test_text_times_are_read_as_pandas_reads_them():
    text = pd.Series(["2026-11-30 10:00", None, "2026-12-06 23:00"])
    weeks = week_start(text)
    assert weeks.tolist()[::2] == [pd.Timestamp("2026-11-30")] * 2 and weeks.isna().tolist() == [False, True, False]
