"""House style of the figures: labels that read and stay inside the figure."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from study.report import plots  # noqa: E402


def test_shared_leading_words_leave_the_labels_and_short_ones_stay_whole():
    labels = ["CSAT points per doubling, naive (nothing held fixed)", "CSAT points per doubling, adjusted for confounders"]
    assert plots.distinct_labels(labels) == ["naive (nothing held fixed)", "adjusted for confounders"]
    assert plots.distinct_labels(["only one label"]) == ["only one label"]
    assert plots.distinct_labels(["repeat purchase", "repeat rate"]) == ["repeat purchase", "repeat rate"]
    assert plots.distinct_labels(["a b c", "a b"]) == ["a b c", "a b"]  # nothing would be left of one of them


def test_importance_labels_stay_inside_the_axes():
    table = pd.DataFrame({"label": ["case reopened", "case resolved", "QA score"], "performance": [99.0, 77.0, 3.0],
                          "share_of_explained": [0.01, 0.6, 0.39]})
    figure = plots.importance_performance(table, "title")
    figure.canvas.draw()
    axes_box = figure.axes[0].get_window_extent()
    for text in figure.axes[0].texts:
        box = text.get_window_extent()
        assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1, text.get_text()


def test_the_lift_figure_names_the_arms_when_it_compares_several():
    from types import SimpleNamespace

    def effect(metric, arm):
        return SimpleNamespace(metric=metric, label="", treatment=arm, control="control", lift=0.1,
                               lift_ci_low=0.0, lift_ci_high=0.2)

    several = [effect(m, a) for m in ("converted", "spend") for a in ("treatment_a", "treatment_b")]
    figure = plots.lift_comparison(several, "title")
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert sorted(labels) == ["converted: treatment_a vs control", "converted: treatment_b vs control",
                              "spend: treatment_a vs control", "spend: treatment_b vs control"]
    one = plots.lift_comparison([effect("converted", "treatment_a")], "title")
    assert [t.get_text() for t in one.axes[0].get_yticklabels()] == ["converted"]
