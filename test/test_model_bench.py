"""`rt2 bench decode` as a user runs it (tiny model only, so it stays quick): a table and a JSON file."""

from __future__ import annotations

import json

import torch

from rt2_ros import cli

torch.set_num_threads(1)


def test_bench_decode_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "decode.json"
    assert cli.main(["bench", "decode", "--quick", "--sizes", "tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "median ms" in printed.out and "[tiny]" in printed.err  # table on stdout, progress on stderr
    result = json.loads(out.read_text())
    rows = {(r["dtype"], r["decoding"]): r for r in result["rows"]}
    assert len(rows) == 9 and all(r["median_ms"] > 0 and r["p90_ms"] >= r["median_ms"] for r in rows.values())
    assert rows[("float32", "kv")]["same_tokens_as_generate_fp32"] == 1.0  # the fast path is exact
