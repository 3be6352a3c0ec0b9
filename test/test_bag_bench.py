"""`rt2 bench bag` runs end to end on a small bag and saves its numbers (values are not asserted: shared machine)."""

from __future__ import annotations

import json

from rt2_ros import benchmarks


def test_bench_bag_prints_a_table_and_saves_json(tmp_path, tiny_model_dir, capsys):
    out = tmp_path / "bag.json"
    argv = ["bag", "--steps", "30", "--size", "32", "--replay-steps", "2", "--model", str(tiny_model_dir)]
    assert benchmarks.main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "to-episodes" in printed and "messages/s" in printed and "offline replay" in printed
    results = json.loads(out.read_text())
    assert results["conversion"]["steps"] == 30 and results["conversion"]["dropped"] == 0
    assert results["bag"]["messages"] == 30 * 3 + 1
    assert results["dataset_read"]["steps"] == 30
    assert results["offline_replay"]["steps"] == 2
    assert results["conversion"]["messages_per_s"] > 0 and results["offline_replay"]["steps_per_s"] > 0
