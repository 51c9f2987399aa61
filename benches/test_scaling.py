"""benches/scaling.py runs end to end (a tiny run: its numbers are not the point here)."""
import pytest
import scaling


def test_scaling_table(capsys):
    scaling.main(["--threads", "1", "--samples", "256", "--rounds", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| W")]
    assert [row.split(" | ")[:2] for row in rows] == [["| W4 mb10", "1"], ["| W5 mb256", "1"]]


def test_scaling_refuses_fewer_samples_than_a_mini_batch(capsys):
    with pytest.raises(SystemExit):
        scaling.main(["--samples", "100"])
    assert "--samples must be at least 256" in capsys.readouterr().err
