"""The public API a notebook calls (``import study``), and notebooks that stay thin."""

import json
import re
import subprocess
import sys

import nbformat
import pytest

import study
from study import analyses


def test_every_public_name_resolves_and_import_study_stays_light():
    for name in study.__all__:
        assert getattr(study, name) is not None, name
    with pytest.raises(AttributeError):
        _ = study.no_such_name
    loaded = subprocess.run([sys.executable, "-c", "import study, sys; print('statsmodels' in sys.modules)"],
                            capture_output=True, text=True)
    assert loaded.stdout.strip() == "False"


def test_an_analysis_result_saves_itself_with_the_parameters_it_was_made_with(small_study_path, tmp_path):
    data = study.load(small_study_path, max_tickets=0)
    result = study.repeat_purchase(data, alpha=0.1, replicates=50, seed=3)
    payload = study.save(result, tmp_path)
    written = json.loads((tmp_path / "03_repeat_purchase.json").read_text())
    assert written == payload
    assert written["analysis"] == result.name == analyses.REPEAT
    assert written["parameters"] == {"alpha": 0.1, "replicates": 50, "seed": 3, "model_tickets": 0}
    assert written["data"]["fingerprint"] == data.source.fingerprint
    assert written["rows"] == result.rows and written["notes"] == result.notes


@pytest.mark.parametrize("analysis", [a for a in analyses.ANALYSES], ids=lambda a: a.name)
def test_notebooks_are_thin(analysis):
    """One import line of the public API, no cell over six lines, no parameters typed again."""
    notebook = nbformat.read(analysis.notebook, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    imports = [line for c in code for line in c.source.splitlines() if line.startswith(("import ", "from "))]
    assert [line for line in imports if "study" in line] == ["import study"], imports
    assert [len(c.source.splitlines()) for c in code if len(c.source.splitlines()) > 6] == []
    parameters = [line.split(":")[0] for c in notebook.cells if "parameters" in c.metadata.get("tags", [])
                  for line in c.source.splitlines() if ":" in line]
    for cell in code:
        for name in parameters:
            assert not re.search(rf"[\"']{name}[\"']\s*:", cell.source), (name, cell.source)


@pytest.mark.parametrize("analysis", [a for a in analyses.ANALYSES], ids=lambda a: a.name)
def test_papermill_reads_every_parameter_line(analysis, caplog):
    """A comment papermill cannot parse (it chokes on '=' in one) drops the parameter without an error."""
    import papermill

    notebook = nbformat.read(analysis.notebook, as_version=4)
    [cell] = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    declared = [line.split(":")[0].strip() for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
    with caplog.at_level("WARNING"):
        inspected = papermill.inspect_notebook(str(analysis.notebook))
    assert list(inspected) == declared
    assert not [r.getMessage() for r in caplog.records if "parse" in r.getMessage()]
