"""benches/scaling.py runs end to end (a tiny run: its numbers are not the point here)."""
import pytest
import scaling


def test_scaling_table(capsys):
    scaling.main(["--threads", "1", "--samples", "256", "--rounds", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| W")]
    assert [row.split(" | ")[:3] for row in rows] == [["| W4 mb10", "1", "-"],
                                                      ["| W5 mb256", "1", "-"]]


@pytest.mark.parametrize("trials, team", [
    ([], "-"),
    ([{"chosen": None, "alone": None}], "-"),  # still trying
    ([{"chosen": [2, 2, 1], "alone": False}], "2,2,1"),
    ([{"chosen": [1, 1], "alone": True}], "alone"),
])
def test_the_team_column_names_the_trials_choice(monkeypatch, trials, team):
    monkeypatch.setattr(scaling.nnfast.plan, "teams", lambda: trials)
    assert scaling.chosen_team() == team


def test_scaling_refuses_fewer_samples_than_a_mini_batch(capsys):
    with pytest.raises(SystemExit):
        scaling.main(["--samples", "100"])
    assert "--samples must be at least 256" in capsys.readouterr().err
