import numpy as np
import pandas as pd

from study.data import features


def test_log2_hours_counts_doublings_from_one_hour():
    minutes = pd.Series([60.0, 120.0, 15.0, 30.0])
    assert features.response_log2_hours(minutes).tolist() == [0.0, 1.0, -2.0, -1.0]


def test_log2_hours_floors_replies_under_a_minute():
    assert features.response_log2_hours(pd.Series([0.0, 0.5]))[0] == np.log2(1 / 60)
    assert features.response_log2_hours(pd.Series([0.0, 0.5])).nunique() == 1


def test_response_bands_close_on_the_left():
    bands = features.response_band(pd.Series([0.0, 14.9, 15.0, 60.0, 239.9, 240.0, 1440.0]))
    assert bands.astype(str).tolist() == [
        "under 15 min", "under 15 min", "15-60 min", "1-4 h", "1-4 h", "4-24 h", "over 24 h",
    ]


def test_derive_marks_top_two_box_only_for_answers():
    tickets = pd.DataFrame({"first_response_minutes": [10.0, 10.0, 10.0], "csat": pd.array([5, 3, None], dtype="Int64")})
    derived = features.derive(tickets)
    assert derived["csat_answered"].tolist() == [True, True, False]
    assert derived["csat_top2"].tolist()[:2] == [True, False] and pd.isna(derived["csat_top2"][2])
