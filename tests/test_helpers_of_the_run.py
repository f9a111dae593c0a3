"""Helpers behind `study run`: parameters, truth lookup, findings text, figures, index page."""


import matplotlib
import pytest

from study import config, parameters
from study.ab import design, sla
from study.ab import findings as ab_findings
from study.core import words
from study.data.io import Source
from study.regression import fitting, models, satisfaction
from study.report import export, index, plots, run_outputs, sentences, truth

matplotlib.use("Agg")

NOTEBOOKS = sorted(config.NOTEBOOKS.glob("0*.ipynb"))


def test_parameters_go_only_to_notebooks_that_declare_them():
    split = parameters.split_parameters({"treatment_share": 0.4, "alpha": 0.1}, NOTEBOOKS)
    assert split["04_ab_test"] == {"treatment_share": 0.4, "alpha": 0.1}
    assert split["01_data_overview"] == {"alpha": 0.1}


def test_every_notebook_declares_documented_typed_parameters():
    import papermill

    for notebook in NOTEBOOKS:
        declared = papermill.inspect_notebook(str(notebook))
        assert {"data_path", "alpha", "results_dir"} <= set(declared), notebook.name
        for name, info in declared.items():
            assert info["inferred_type_name"] != "None" and info["help"], (notebook.name, name)


def test_the_declared_parameters_are_papermills_own_reading_of_every_notebook():
    import papermill

    for notebook in sorted(config.NOTEBOOKS.glob("*.ipynb")):
        assert parameters.declared_parameters(notebook) == papermill.inspect_notebook(str(notebook)), notebook.name


def test_the_declared_parameters_are_read_from_the_cells_syntax(tmp_path):
    import nbformat

    cell = nbformat.v4.new_code_cell(
        'label: str = "a # not a comment"  # what it is\n'
        "plain = 3\n"
        "shares: list = [0.5,\n          0.5]  # each arm's share\n"
        "print('not a parameter')\n")
    cell.metadata["tags"] = ["parameters"]
    path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), cell]), path)
    assert parameters.declared_parameters(path) == {
        "label": {"name": "label", "inferred_type_name": "str", "default": '"a # not a comment"', "help": "what it is"},
        "plain": {"name": "plain", "inferred_type_name": "None", "default": "3", "help": ""},
        "shares": {"name": "shares", "inferred_type_name": "list", "default": "[0.5,\n          0.5]",
                   "help": "each arm's share"},
    }
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    assert parameters.declared_parameters(path) == {}


def test_checking_the_parameters_imports_no_papermill():
    import subprocess
    import sys

    script = ("import sys\nfrom study import config, parameters\n"
              "parameters.split_parameters({'alpha': 0.1}, sorted(config.NOTEBOOKS.glob('*.ipynb')))\n"
              "print('papermill' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_cli_parameters_are_typed_as_their_notebooks_declare_them():
    pairs = parameters.parse_pairs(["alpha=0.1", "model_tickets=3000", "segments=loyalty_tier, first_channel"])
    assert pairs == {"alpha": "0.1", "model_tickets": "3000", "segments": "loyalty_tier, first_channel"}
    typed = parameters.split_parameters(pairs, NOTEBOOKS)
    assert typed["02_satisfaction_drivers"] == {"alpha": 0.1, "model_tickets": 3000}
    assert typed["04_ab_test"] == {"alpha": 0.1, "segments": ["loyalty_tier", "first_channel"]}
    with pytest.raises(ValueError, match="key=value"):
        parameters.parse_pairs(["alpha"])


def test_truth_is_used_only_for_its_own_data(small_study_path):
    from study.data.io import fingerprint

    source = Source("tickets.parquet", fingerprint(small_study_path), 3_000, [])
    assert truth.for_data(small_study_path, source)["seed"] == 7
    assert truth.for_data(small_study_path, Source("tickets.parquet", "0123456789abcdef", 3_000, [])) is None
    assert truth.expected_values(None) == {}


def test_findings_state_the_numbers_of_the_run(small_data, small_study_path):
    result = satisfaction.study(small_data, bootstrap=50)
    found = result.findings(truth.for_data(small_study_path, small_data.source))
    text = found.markdown()
    adjusted = result.drivers.get("csat_per_doubling_adjusted")
    assert text.startswith("## Findings")
    assert words.with_interval(adjusted) in text and "observational" in text
    assert "simulation's truth" in text
    # every finding names estimates the results file holds, and quotes the value of the first
    names = {e.name: e for e in result.estimates}
    for finding in found:
        assert set(finding.estimates) <= set(names), finding
        if finding.estimates and finding.kind == "finding":
            value = names[finding.estimates[0]].value
            assert any(form in finding.text for form in (words.number(value, signed=True), words.number(value), words.points(value), words.pct(value))), finding
    assert [f.kind for f in found if f.kind == "truth"] == ["truth"] and not any(f.headline for f in found if f.kind == "truth")


def test_ab_findings_warn_loudly_on_sample_ratio_mismatch(small_data):
    experiment = sla.sla_experiment(small_data)
    units = experiment.experiment.units["variant"]
    bad_split = design.srm_check(units, {"control": 0.9, "treatment": 0.1})
    bad = ab_findings.ab_test(bad_split, experiment.effects)
    assert "Sample ratio mismatch" in bad.markdown() and "do not trust" in bad.markdown()
    assert bad[0].kind == "warning" and bad[0].headline
    good = ab_findings.ab_test(design.srm_check(units), experiment.effects, bounds=experiment.csat_bounds,
                               spend_robust=experiment.spend_robust).markdown()
    assert "Design check passed" in good and "**CSAT.**" in good and "**Repeat purchase.**" in good
    assert experiment.findings().markdown() == good


def test_term_labels_read_as_words():
    assert fitting.term_label("C(category)[T.billing]") == "category: billing"
    assert fitting.term_label("response_log2_hours") == "log2 first response hours"


def test_estimate_figure_has_one_point_per_estimate(small_data):
    drivers = models.satisfaction_drivers(small_data)
    figure = plots.estimate_comparison(drivers.estimates[:2], "title", "x", truth=-0.15)
    assert len(figure.axes[0].get_yticklabels()) == 2
    assert figure.axes[0].get_title() == "title"


def test_index_escapes_text_and_links_reports(tmp_path):
    runs = [index.AnalysisRun("01_data_overview", "Overview", "ok", "", 1.0, "01_data_overview.html",
                               {"in": 10, "used": 8, "dropped": {"no survey answer": 2}},
                               "- **x** <script>alert(1)</script> [click](javascript:alert(1))"),
            index.AnalysisRun("04_ab_test", "AB", "skipped", "data has no variant")]
    page = index.write_index(tmp_path / "index.html", runs, {"data file": "<b>t.csv</b>"}).read_text()
    body = page.split("<body", 1)[1]
    assert "<script>alert" not in body and body.count("<script>") == 1  # markup from the data is cut; ours prints
    assert 'href="javascript' not in page
    assert "&lt;b&gt;t.csv&lt;/b&gt;" in page
    assert 'href="01_data_overview.html"' in page and "data has no variant" in page
    assert "2 no survey answer" in page


def test_the_index_takes_findings_from_the_results_file_as_the_notebook_wrote_them():
    payload = {"findings": [{"text": "**One.** first", "headline": True}, {"text": "second"}, {"bad": 1}, "junk"]}
    assert sentences.findings_markdown(payload) == "- **One.** first\n- second"
    assert sentences.findings_markdown({}) == "" and sentences.findings_markdown(None) == ""


def test_run_facts_name_the_package_versions():
    assert "pandas" in run_outputs.package_versions() and "statsmodels" in run_outputs.package_versions()


def test_results_rows_in_words():
    assert index._dropped_words({"in": 10, "used": 8, "dropped": {"x": 2}}) == ("10", "8", "2 x")
    words = index._dropped_words({"a": {"in": 1, "used": 1, "dropped": {}}, "b": {"in": 2, "used": 1, "dropped": {"y": 1}}})
    assert words == ("a: 1; b: 2", "a: 1; b: 1", "a: none; b: 1 y")


def test_committed_notebooks_hold_the_outputs_nbval_compares():
    """A code cell without an execution count is not checked by nbval: every one must have run."""
    import nbformat

    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
        assert all(c.execution_count is not None for c in code), path.name
        assert not any(o.output_type == "error" for c in code for o in c.outputs), path.name
        assert any("parameters" in c.metadata.get("tags", []) for c in code), path.name


def test_a_shown_table_reaches_the_report_with_its_column_classes(tmp_path):
    import nbformat
    import pandas as pd

    from study.core.tables import column_kinds, numbers_as_text
    from study.report.html_table import HtmlTable

    table = numbers_as_text(pd.DataFrame({"estimate": ["-0.150 (-0.163 to -0.137)", "<0.001"],
                                          "meaning": ["change in CSAT per doubling of the first wait", "short"]},
                                         index=pd.Index(["speed", "resolved"])), "estimate")
    shown = HtmlTable(table, column_kinds(table))
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show(table)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": shown._repr_html_(), "text/plain": repr(shown)})]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Tables"), cell]
    nbformat.write(notebook, tmp_path / "n.ipynb")
    page = export.export_html(tmp_path / "n.ipynb", tmp_path / "n.html").read_text()
    assert page.count('<td class="num">') == 2 and page.count('<td class="prose">') == 2
    assert '<th class="num">estimate</th>' in page and "&lt;0.001" in page
    assert "td.num { white-space: nowrap" in page  # the stylesheet that lays the classes out


def test_an_optional_list_parameter_is_read_as_a_list():
    """06's controls (Optional[list]) from the command line: comma-separated names, as segments are."""
    declared = {"controls": "Optional[list]", "cluster": "Optional[str]"}
    assert parameters.check({"controls": "category,state", "cluster": ""}, declared) == {
        "controls": ["category", "state"], "cluster": ""}
    assert parameters.check({"controls": "['region']"}, declared) == {"controls": ["region"]}
