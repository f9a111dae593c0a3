from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from study import config
from study.ab import experiment_engine, experiment_table
from study.data import examples
from study.data.schema import DataError
from study.report.glossary import method_name

MAP = config.DATA / "examples" / "experiment_columns.yml"


@pytest.fixture(scope="module")
def table():
    return pd.read_csv(config.DATA / "examples" / "experiment.csv.gz")


def test_committed_example_is_what_the_simulator_writes(table):
    pd.testing.assert_frame_equal(table, examples.experiment_table(), check_dtype=False)


def test_column_map_is_read_with_every_key():
    mapping = experiment_table.read_map(MAP)
    assert (mapping.unit, mapping.arm, mapping.control) == ("user_id", "group", "control")
    assert mapping.metrics == ["converted", "spend"] and mapping.segments == ["device"]
    assert mapping.exposure_expected["treatment_a"] == "new_a"
    assert mapping.columns == ["user_id", "group", "converted", "spend", "device", "pre_spend", "page"]


@pytest.mark.parametrize("text, message", [
    ("experiment: [1, 2", "not valid YAML"),
    ("tickets: {}", "no 'experiment' section"),
    ("experiment: {unit: u, arm: a}", "lacks 'control', 'metrics'"),
])
def test_a_broken_map_is_refused_with_its_reason(tmp_path, text, message):
    path = tmp_path / "map.yml"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        experiment_table.read_map(path)


def test_a_map_naming_absent_columns_is_refused(table):
    mapping = experiment_table.read_map(MAP)
    with pytest.raises(DataError, match="lacks: 'spend'"):
        experiment_table.analyse(table.drop(columns="spend"), mapping)


def test_every_row_is_accounted_for_and_the_simulated_lift_is_found(table):
    result = experiment_table.analyse(table, experiment_table.read_map(MAP))
    rows = result.ledger.as_dict()
    assert rows["in"] == len(table) == rows["used"] + sum(rows["dropped"].values())
    assert result.exposure_mismatches == 60 and result.checks.units_in_several_arms == 40
    converted = {e.treatment: e for e in result.effects if e.metric == "converted"}
    assert converted["treatment_a"].ci_low <= 0.01 <= converted["treatment_a"].ci_high  # true lift +1 pp
    assert converted["treatment_b"].ci_low <= 0.0 <= converted["treatment_b"].ci_high  # no effect
    assert {e.segment["device"] for e in result.segment_effects} == {"mobile", "desktop"}


@pytest.mark.parametrize("text, message", [
    ("experiment: {unit: u, arm: a, control: c, metrics: [m], covarate: x}", r"unknown key 'covarate' in the experiment section \(did you mean 'covariate'\?\)"),
    ("experiment: {unit: u, arm: a, control: c, metrics: [m], planned_shares: {c: 0.5, t: -0.5}}", "every planned share is above 0"),
    ("experiment: {unit: u, arm: a, control: c, metrics: [m], planned_shares: {c: 0.6, t: 0.6}}", "sum to 1.2, not 1"),
    ("experiment: {unit: u, arm: a, control: c, metrics: [m], planned_shares: {c: yes, t: 0.5}}", "not a number"),
])
def test_unknown_keys_and_impossible_shares_are_refused(tmp_path, text, message):
    path = tmp_path / "map.yml"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        experiment_table.read_map(path)


def test_a_control_arm_absent_from_the_table_names_the_arms(table):
    mapping = experiment_table.read_map(MAP)
    with pytest.raises(DataError, match=r"control arm 'ctrl' is not in column 'group' \(arms: 'control', 'treatment_a', 'treatment_b'; did you mean 'control'\?\)"):
        experiment_table.check_table(table, replace(mapping, control="ctrl", planned_shares=None, exposure_expected=None))
    assert experiment_table.check_table(table, mapping) is None


def test_a_metric_marked_robust_gets_every_heavy_tail_method_and_a_sentence_on_whether_they_agree(tmp_path):
    import numpy as np

    rng = np.random.default_rng(4)
    n = 2_000
    arm = np.where(np.arange(n) % 2 == 0, "control", "new")
    rounds = rng.lognormal(3.0, 1.0, n) * np.where(arm == "new", 1.15, 1.0)
    rounds[np.flatnonzero(arm == "control")[0]] = 50_000  # one player decides the mean
    pd.DataFrame({"id": np.arange(n), "arm": arm, "rounds": rounds, "kept": rng.integers(0, 2, n)}).to_csv(
        tmp_path / "t.csv", index=False)
    (tmp_path / "m.yml").write_text("experiment:\n  unit: id\n  arm: arm\n  control: control\n  metrics:\n"
                                    "    kept: {role: primary}\n    rounds: {role: secondary, robust: true}\n")
    result = experiment_engine.from_files(tmp_path / "t.csv", tmp_path / "m.yml")
    table = result.robust()
    assert list(table.index.get_level_values("method")) == [method_name(code) for code in (
        "welch_t", "winsorized_welch_t", "yuen_t", "mann_whitney_u", "bootstrap_percentile")]
    welch, mann_whitney = table["p-value"].iloc[0], table["p-value"].iloc[3]
    assert welch > 0.05 and mann_whitney < 0.05  # the outlier hides a shift every rank sees
    [sentence] = [f.text for f in result.findings() if "heavy tails" in f.text]
    assert "Mann-Whitney" in sentence and "they disagree at the 0.05 level" in sentence
    example = experiment_engine.from_files(config.DATA / "examples" / "experiment.csv.gz",
                                          config.DATA / "examples" / "experiment_columns.yml")
    # the example's spend is not marked robust, but its excess kurtosis (181) says a few units decide its mean
    assert set(example.robust().index.get_level_values("metric")) == {"spend"}
    light = pd.DataFrame({"id": np.arange(n), "arm": arm, "kept": rng.integers(0, 2, n), "score": rng.normal(size=n)})
    light.to_csv(tmp_path / "light.csv", index=False)
    (tmp_path / "light.yml").write_text("experiment: {unit: id, arm: arm, control: control, metrics: [kept, score]}\n")
    plain = experiment_engine.from_files(tmp_path / "light.csv", tmp_path / "light.yml")
    assert plain.robust().reason.startswith("no metric is marked robust: true in the column map")


def test_units_set_aside_for_their_exposure_get_an_intention_to_treat_comparison_beside(table):
    result = experiment_engine.from_files(config.DATA / "examples" / "experiment.csv.gz",
                                         config.DATA / "examples" / "experiment_columns.yml")
    assert result.exposure_mismatches == 60
    names = {e.name for e in result.estimates}
    assert {"converted_itt_effect_treatment_a_vs_control", "converted_effect_treatment_a_vs_control"} <= names
    itt = {e.treatment: e for e in result.itt_effects if e.metric == "converted"}
    per_protocol = {e.treatment: e for e in result.effects if e.metric == "converted"}
    # the mismatched units are back in: more units, a (slightly) different estimate
    assert itt["treatment_a"].n_control + itt["treatment_a"].n_treatment > \
        per_protocol["treatment_a"].n_control + per_protocol["treatment_a"].n_treatment
    [said] = [f for f in result.findings() if f.text.startswith("**Per protocol")]
    assert "not a clean causal effect" in said.text and said.estimates[0] == "converted_itt_effect_treatment_a_vs_control"
    assert not any("causal for the units" in f.text for f in result.findings())
    clean = replace(result.mapping, exposure_column=None, exposure_expected=None)
    plain = experiment_table.analyse(pd.read_csv(config.DATA / "examples" / "experiment.csv.gz"), clean)
    assert plain.itt_effects == [] and plain.intention_to_treat().section == "intention-to-treat comparison"


def test_whole_number_arms_and_exposure_agree_on_both_paths(tmp_path):
    # Arms and exposure are compared as text on both paths: a Parquet file of 0/1 columns agrees with a map
    # naming "0" and "1" in pandas as it does on an engine (pandas compared the raw numbers and set every row aside).
    from study.ab.experiment_table import ExperimentMap

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user": np.arange(400), "arm": rng.integers(0, 2, 400), "y": rng.normal(size=400)})
    frame["exposed"] = frame["arm"]
    frame.loc[:9, "exposed"] = 1 - frame.loc[:9, "arm"]  # ten rows saw the other arm's page
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    mapping = ExperimentMap(unit="user", arm="arm", control="0", metrics=["y"], exposure_column="exposed",
                            exposure_expected={"0": "0", "1": "1"})
    in_pandas = experiment_table.analyse(pd.read_parquet(tmp_path / "t.parquet"), mapping)
    source, _ = experiment_engine.open_table(tmp_path / "t.parquet", "duckdb")
    on_engine = experiment_engine.analyse_source(source, mapping)
    assert in_pandas.exposure_mismatches == on_engine.exposure_mismatches == 10
    assert in_pandas.ledger.as_dict() == on_engine.ledger.as_dict()


def yes_no_experiment(path):
    """An experiment table whose arm, exposure and a segment are yes/no, written to ``path``: (frame, map)."""
    from study.ab.experiment_table import ExperimentMap

    rng = np.random.default_rng(3)
    n = 3000
    treated = rng.random(n) < 0.5
    frame = pd.DataFrame({"user": [f"u{i}" for i in range(n)], "in_test": pd.array(treated, dtype="boolean"),
                          "mobile": rng.random(n) < 0.4, "y": rng.normal(size=n) + 0.2 * treated})
    frame["saw_new"] = frame["in_test"]
    frame.loc[:19, "saw_new"] = ~frame.loc[:19, "in_test"]  # twenty rows saw the other arm's page
    frame.loc[20:29, "in_test"] = None  # and ten have no arm
    frame.to_parquet(path, index=False)
    return frame, ExperimentMap(unit="user", arm="in_test", control="False", metrics=["y"], segments=["mobile"],
                                exposure_column="saw_new", exposure_expected={"False": "False", "True": "True"})


def same_results_as_pandas(frame, mapping, on_engine, folder) -> None:
    """``on_engine`` (an engine's analysis of ``frame``) has the pandas path's ledger, arms and numbers."""
    import results_numbers

    from study.core.results import Source, save

    in_pandas = experiment_table.analyse(frame, mapping)
    assert in_pandas.exposure_mismatches == on_engine.exposure_mismatches
    assert in_pandas.ledger.as_dict() == on_engine.ledger.as_dict()
    arms = [(e.metric, e.control, e.treatment) for e in on_engine.effects]
    assert arms == [(e.metric, e.control, e.treatment) for e in in_pandas.effects] and ("y", "False", "True") in arms
    facts = {"source": Source("t.parquet", "0" * 16, len(frame), list(frame.columns)), "parameters": {"alpha": 0.05}}
    saved = [save(replace(result, **facts), folder / name) for result, name in ((in_pandas, "pandas"), (on_engine, "engine"))]
    assert results_numbers.differences(*saved) == []


def test_yes_no_arms_and_exposure_are_named_alike_on_both_paths(tmp_path):
    # SQL casts a yes/no value to 'true', pandas to 'True': the engine names arms and exposures as pandas does, so a
    # map's control "False" is found on both paths and the results are the same, name for name (a yes/no segment
    # keeps its value on both). A row without an arm disagrees with its exposure: 20 + 10 rows set aside.
    frame, mapping = yes_no_experiment(tmp_path / "t.parquet")
    source, _ = experiment_engine.open_table(tmp_path / "t.parquet", "duckdb")
    on_engine = experiment_engine.analyse_source(source, mapping)
    assert on_engine.exposure_mismatches == 30
    same_results_as_pandas(pd.read_parquet(tmp_path / "t.parquet"), mapping, on_engine, tmp_path)
