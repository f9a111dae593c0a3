"""Headline findings name the report section that shows their evidence, and that section exists.

The index links each headline finding to ``<page>.html#<section>``: a section named by a finding but
missing from its notebook would be a dead link. Technical sections sit in an appendix at the end.
"""

import nbformat
import pytest

import study
from study import analyses, config
from study.data.rollout import simulate_rollout

APPENDIX = "Appendix: "


def headings(analysis: str) -> list[tuple[int, str]]:
    """Level and text of every ``##``/``###`` heading of a notebook's markdown, in order."""
    notebook = nbformat.read(analyses.ANALYSES[[a.name for a in analyses.ANALYSES].index(analysis)].notebook, 4)
    out = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            marks = len(line) - len(line.lstrip("#"))
            if marks in (2, 3) and line[marks:].startswith(" "):
                out.append((marks, line[marks:].strip()))
    return out


@pytest.fixture(scope="module")
def findings(small_study_path):
    """Every analysis's findings on small data, with the default settings of its notebook where they matter."""
    data = study.load(str(small_study_path))
    truth = study.truth(str(small_study_path), data.source)
    experiment = config.DATA / "examples" / "experiment.csv.gz", config.DATA / "examples" / "experiment_columns.yml"
    return {
        analyses.OVERVIEW: study.overview(data).findings(),
        analyses.DRIVERS: study.satisfaction(data, bootstrap=20).findings(truth),
        analyses.REPEAT: study.repeat_purchase(data, replicates=20).findings(truth),
        analyses.AB_TEST: study.sla_experiment(data).findings(truth),
        analyses.EXPERIMENT: study.experiment_table(*map(str, experiment)).findings(),
        analyses.DRIVER_ANALYSIS: study.driver_analysis(data, study.driver_settings(None, None, None, None, None)).findings(),
        analyses.ROLLOUT: study.rollout.analyse(simulate_rollout(rows=3_000, seed=3, teams=12).tickets).findings(),
        analyses.MONITORING: study.monitoring.analyse(data).findings(),
        analyses.REPEAT_MODEL: study.repeat_model(data, bootstrap=20).findings(truth),
        analyses.FEEDBACK: study.feedback_analysis(data, discovered_themes=4).findings(truth),
    }


@pytest.mark.parametrize("analysis", [a.name for a in analyses.ANALYSES])
def test_every_headline_names_a_section_that_is_a_heading_of_its_notebook(findings, analysis):
    named = [f for f in findings[analysis] if f.headline and f.kind != "skipped"]
    assert named, f"{analysis} has no headline finding on the sample"
    assert [f.text for f in named if not f.section] == []
    present = {text for _, text in headings(analysis)}
    assert {f.section for f in findings[analysis] if f.section} - present == set()


@pytest.mark.parametrize("analysis", [a.name for a in analyses.ANALYSES])
def test_the_appendix_comes_last(analysis):
    level_two = [text for level, text in headings(analysis) if level == 2]
    first = next((i for i, text in enumerate(level_two) if text.startswith(APPENDIX)), len(level_two))
    assert [text for text in level_two[first:] if not text.startswith(APPENDIX)] == []
