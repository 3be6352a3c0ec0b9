"""`rt2 bench node` measures a running node end to end and saves what it printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_node_prints_the_latency_table_and_saves_json(taught_model_dir, tmp_path):
    out = tmp_path / "node.json"
    done = subprocess.run(
        [sys.executable, "-m", "rt2_ros.cli", "bench", "node", "--seconds", "4", "--model", str(taught_model_dir),
         "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "image -> VLAAction (end to end)" in done.stdout and "ROS layer" in done.stdout
    (result,) = json.loads(out.read_text())["results"]
    assert result["actions"] > 0 and result["frames_sent"] > result["actions"]
    for name in ("image_to_twist_ms", "policy_ms", "decode_ms", "policy_to_publish_ms", "receipt_to_policy_ms"):
        assert result["node"][f"{name}_median"] <= result["node"][f"{name}_p99"]
    assert result["image_to_action_ms"]["median"] > 0
