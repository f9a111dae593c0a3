"""What `study run` checks of a rollout before any notebook starts: the pilot file and one go-live per team."""

import pandas as pd

from study import cli, config


def _run(capsys, *arguments: str) -> tuple[int, str]:
    status = cli.main(["run", *arguments])
    return status, capsys.readouterr().err


def test_a_pilot_that_is_not_tickets_stops_the_run_in_one_line(tmp_path, capsys):
    status, err = _run(capsys, "--only", "07", "--out", str(tmp_path / "out"), "--data",
                       str(config.DATA / "rollout" / "tickets.parquet"),
                       "--param", f"pilot_path={config.DATA / 'examples' / 'experiment.csv.gz'}")
    assert status == 2 and "pilot_path: experiment.csv.gz: missing required column 'ticket_id'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_missing_pilot_is_a_parameter_error(tmp_path, capsys):
    status, err = _run(capsys, "--only", "07", "--out", str(tmp_path / "out"), "--param", f"pilot_path={tmp_path / 'no.csv'}")
    assert status == 2 and "parameter 'pilot_path' must be an existing data file" in err


def test_a_team_that_adopted_twice_stops_the_run_before_any_notebook(tmp_path, capsys):
    tickets = pd.read_parquet(config.DATA / "rollout" / "tickets.parquet").head(2_000)
    team = tickets["team"].iloc[0]
    rows = tickets.index[tickets["team"] == team][:3]
    tickets.loc[rows, "adopted_at"] = pd.Timestamp("2026-09-07")
    tickets.to_csv(tmp_path / "t.csv", index=False)
    status, err = _run(capsys, "--only", "08", "--out", str(tmp_path / "out"), "--data", str(tmp_path / "t.csv"))
    assert status == 2 and f"t.csv: adopted_at varies within team {team}:" in err and "(3 rows)" in err
    assert not (tmp_path / "out").exists()
