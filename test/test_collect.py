"""rt2 collect: expert episodes from train-split seeds, only successes kept, report written."""

import json

from rt2_ros.data import splits
from rt2_ros.data.collect import main
from rt2_ros.data.dataset import iter_episodes, read_info


def test_collect_writes_successful_train_split_episodes(tmp_path, capsys):
    out = tmp_path / "data"
    assert main([str(out), "--tasks", "pick", "push", "--episodes-per-task", "2", "--size", "32"]) == 0
    assert "pick" in capsys.readouterr().out
    info = read_info(out)
    assert info["num_episodes"] == 4 and info["cameras"] == ["scene"] and info["image_shapes"]["scene"] == [32, 32, 3]
    report = json.loads((out / "meta/collect_report.json").read_text())
    episodes = list(iter_episodes(out))
    for task in ("pick", "push"):
        kept = [e for e in episodes if e.task == task]
        assert [e.seed for e in kept] == report["tasks"][task]["seeds"]
        assert set(report["tasks"][task]["seeds"]) <= set(splits.robot_seeds(task, 10))
        assert all(e.success and e.steps[-1].terminate for e in kept)
    assert sum(len(e.steps) for e in episodes) == info["num_steps"]
