"""A rollout table named by the column map gives each ticket its team's go-live time."""

import pandas as pd
import pytest

from study.data import column_map
from study.data.schema import DataError

EXPORT = pd.DataFrame({
    "id": [f"t{i}" for i in range(12)],
    "region": ["north", "south", "east", "west"] * 3,
    "opened": ["2026-06-01 10:00"] * 12,
})


def _map(tmp_path, rollout: str, table: str | None = "region_code,went_live_on\nnorth,2026-07-06\nsouth,2026-08-03\n"):
    if table is not None:
        (tmp_path / "go_live.csv").write_text(table)
    path = tmp_path / "map.yml"
    path.write_text("tickets:\n  columns: {ticket_id: id, team: region, created_at: opened}\n" + rollout)
    return path


def test_tickets_get_their_teams_go_live_and_unlisted_teams_have_not_adopted(tmp_path):
    path = _map(tmp_path, "  rollout: {file: go_live.csv, team: region_code, adopted_at: went_live_on}\n")
    mapped = column_map.map_tickets(EXPORT, column_map.read_ticket_map(path))
    by_team = mapped.frame.groupby("team")["adopted_at"].first()
    assert by_team["north"] == pd.Timestamp("2026-07-06") and by_team["south"] == pd.Timestamp("2026-08-03")
    assert pd.isna(by_team["east"]) and pd.isna(by_team["west"])
    assert mapped.notes["adopted_at"] == "from go_live.csv, by team; 2 teams not in it (east, west) taken as not adopted"
    assert mapped.mapped_from["adopted_at"] == "go_live.csv: went_live_on"


def test_the_table_is_read_relative_to_the_column_map_and_defaults_its_column_names(tmp_path):
    path = _map(tmp_path, "  rollout: {file: go_live.csv}\n", table="team,adopted_at\nnorth,2026-07-06T00:00:00Z\n")
    frame = column_map.map_tickets(EXPORT, column_map.read_ticket_map(path)).frame
    assert frame.loc[frame["team"] == "north", "adopted_at"].eq(pd.Timestamp("2026-07-06")).all()


@pytest.mark.parametrize("rollout, table, message", [
    ("  rollout: {file: go_live.csv, teem: region_code}\n", None, r"rollout: unknown key 'teem' \(did you mean 'team'\?\)"),
    ("  rollout: go_live.csv\n", None, "rollout must be a mapping"),
    ("  rollout: {team: region_code}\n", None, "rollout needs file"),
])
def test_a_malformed_rollout_key_is_named_before_any_data_is_read(tmp_path, rollout, table, message):
    with pytest.raises(DataError, match=message):
        column_map.read_ticket_map(_map(tmp_path, rollout, table))


@pytest.mark.parametrize("table, message", [
    ("region_code,went_live_on\nnorth,2026-07-06\nnorth,2026-08-03\nsouth,2026-08-03\n",
     r"go_live.csv \(the rollout table\): team 'north' has 2 different go-live times \(2026-07-06 00:00:00, 2026-08-03 00:00:00\); 1 teams"),
    ("region_code,went_live_on\nnorth,soon\n", r"go_live.csv \(the rollout table\): column 'went_live_on' has 1 value"),
    ("region,went_live_on\nnorth,2026-07-06\n", r"no column 'region_code' \(did you mean 'region'\?\)"),
])
def test_a_table_that_cannot_say_one_time_per_team_is_refused_in_one_line(tmp_path, table, message):
    path = _map(tmp_path, "  rollout: {file: go_live.csv, team: region_code, adopted_at: went_live_on}\n", table)
    with pytest.raises(DataError, match=message):
        column_map.map_tickets(EXPORT, column_map.read_ticket_map(path))


def test_a_missing_table_file_is_named(tmp_path):
    path = _map(tmp_path, "  rollout: {file: elsewhere.csv}\n", table=None)
    with pytest.raises(DataError, match="elsewhere.csv"):
        column_map.map_tickets(EXPORT, column_map.read_ticket_map(path))


def test_adopted_at_from_two_places_is_refused(tmp_path):
    path = tmp_path / "map.yml"
    path.write_text("tickets:\n  columns: {ticket_id: id, team: region, adopted_at: opened}\n  rollout: {file: go_live.csv}\n")
    with pytest.raises(DataError, match="'adopted_at' is made by both columns and the rollout table"):
        column_map.read_ticket_map(path)


@pytest.mark.parametrize("file", ["../go_live.csv", "/etc/hostname", "sub/../../go_live.csv"])
def test_a_table_outside_the_column_maps_folder_is_refused_before_it_is_opened(tmp_path, file):
    folder = tmp_path / "maps"
    folder.mkdir()
    (tmp_path / "go_live.csv").write_text("team,adopted_at\nnorth,2026-07-06\n")
    path = folder / "map.yml"
    path.write_text(f"tickets:\n  columns: {{team: region}}\n  rollout: {{file: '{file}'}}\n")
    with pytest.raises(DataError, match="rollout: file must be a table in the column map's folder or below it"):
        column_map.read_ticket_map(path)


def test_a_table_whose_teams_match_no_ticket_says_so_with_both_spellings(tmp_path):
    path = _map(tmp_path, "  rollout: {file: go_live.csv, team: region_code, adopted_at: went_live_on}\n",
                table="region_code,went_live_on\nNORTH,2026-07-06\n")
    with pytest.raises(DataError, match=r"none of the 4 teams of the tickets is in go_live.csv \(tickets: east, north, "
                                        r"south; table: NORTH\); names are compared exactly, case included"):
        column_map.map_tickets(EXPORT, column_map.read_ticket_map(path))


@pytest.mark.parametrize("table, message", [("region_code,went_live_on\n", "no rows"), ("", "the rollout table")])
def test_an_empty_table_is_named_as_the_rollout_table(tmp_path, table, message):
    path = _map(tmp_path, "  rollout: {file: go_live.csv, team: region_code, adopted_at: went_live_on}\n", table=table)
    with pytest.raises(DataError, match=message):
        column_map.map_tickets(EXPORT, column_map.read_ticket_map(path))
