"""The episode dataset on disk: every step comes back bit for bit, and a failed write leaves nothing."""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from rt2_ros.data.dataset import (
    DatasetError,
    EpisodeWriter,
    iter_episodes,
    load_steps,
    read_episode_table,
    read_info,
    write_episodes,
)
from rt2_ros.data.episode import Episode, Step


def make_episodes(count: int, steps: int, seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    episodes = []
    for e in range(count):
        instruction = f"pick up the {['red', 'green', 'blue'][e % 3]} block"
        episodes.append(
            Episode(
                steps=[
                    Step(
                        images={
                            "front": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
                            "wrist": rng.integers(0, 256, (24, 32, 3), dtype=np.uint8),
                        },
                        instruction=instruction,
                        action=rng.normal(scale=0.01, size=7),
                        terminate=i == steps + e - 1,
                    )
                    for i in range(steps + e)  # episodes of different lengths
                ],
                robot=["ur5", "franka"][e % 2],
                task="pick",
                seed=1000 + e,
                success=e % 2 == 0,
                instruction=instruction,
                control_rate_hz=10.0,
                metadata={"source": "test", "index": e},
            )
        )
    return episodes


def assert_same_episodes(written: list[Episode], read: list[Episode]) -> None:
    assert len(read) == len(written)
    for a, b in zip(written, read, strict=True):
        assert (b.robot, b.task, b.seed, b.success) == (a.robot, a.task, a.seed, a.success)
        assert (b.instruction, b.control_rate_hz, b.metadata) == (a.instruction, a.control_rate_hz, a.metadata)
        assert len(b.steps) == len(a.steps)
        for s, r in zip(a.steps, b.steps, strict=True):
            assert r.images.keys() == s.images.keys()
            for name in s.images:
                np.testing.assert_array_equal(r.images[name], s.images[name])  # PNG is lossless
            np.testing.assert_array_equal(r.action, s.action)
            assert (r.instruction, r.terminate) == (s.instruction, s.terminate)


def test_round_trip_keeps_every_step_across_several_shards(tmp_path):
    episodes = make_episodes(count=5, steps=7)
    out = tmp_path / "episodes"
    with EpisodeWriter(out, shard_bytes=20_000) as writer:  # small shards: an episode per shard or so
        for episode in episodes:
            writer.add(episode)
    info = read_info(out)
    assert len(info["data_files"]) > 1
    assert (info["num_episodes"], info["num_steps"]) == (5, sum(len(e.steps) for e in episodes))
    assert info["cameras"] == ["front", "wrist"]
    assert_same_episodes(episodes, list(iter_episodes(out)))
    assert [row["num_steps"] for row in read_episode_table(out)] == [len(e.steps) for e in episodes]


def test_steps_stream_as_a_hugging_face_dataset_with_episode_fields_on_every_row(tmp_path):
    episodes = make_episodes(count=2, steps=3)
    out = write_episodes(episodes, tmp_path / "ds")
    steps = load_steps(out)
    assert isinstance(steps, datasets.IterableDataset)
    rows = list(steps)
    assert len(rows) == 7
    first = rows[0]
    assert first["images"]["front"].size == (64, 48)  # PIL: width x height
    assert len(first["action"]) == 7
    assert (first["robot"], first["seed"], first["success"], first["episode_index"]) == ("ur5", 1000, True, 0)
    assert [r["terminate"] for r in rows] == [False, False, True, False, False, False, True]
    # The dataset card's configs let plain `load_dataset(path)` find both tables.
    assert datasets.load_dataset(str(out), split="train").num_rows == 7
    assert datasets.load_dataset(str(out), "episodes", split="train")["seed"] == [1000, 1001]


def test_a_failed_write_leaves_no_dataset_and_no_temporary_files(tmp_path):
    episodes = make_episodes(count=2, steps=3)
    out = tmp_path / "ds"

    def failing():
        yield episodes[0]
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        write_episodes(failing(), out)
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_unless_asked_and_then_replaces_whole(tmp_path):
    out = write_episodes(make_episodes(3, 2), tmp_path / "ds")
    with pytest.raises(DatasetError, match="exists already"):
        write_episodes(make_episodes(1, 2), out)
    write_episodes(make_episodes(1, 2, seed=1), out, overwrite=True)
    assert read_info(out)["num_episodes"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_inconsistent_inputs_are_refused(tmp_path):
    episodes = make_episodes(2, 2)
    del episodes[1].steps[0].images["wrist"]
    with pytest.raises(DatasetError, match="cameras"):
        write_episodes(episodes, tmp_path / "ds")
    empty = make_episodes(1, 2)[0]
    empty.steps = []
    with pytest.raises(DatasetError, match="no steps"):
        write_episodes([empty], tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetError, match="not an rt2_ros episode dataset"):
        list(iter_episodes(tmp_path))


def test_a_lost_step_on_disk_is_detected_on_read(tmp_path):
    out = write_episodes(make_episodes(2, 3), tmp_path / "ds")
    shard = out / read_info(out)["data_files"][0]
    table = pq.read_table(shard)
    pq.write_table(table.take([0, 1, 3, 4, 5, 6]), shard)  # step 2 of episode 0 gone
    with pytest.raises(DatasetError, match="expected step 2 of episode 0"):
        list(iter_episodes(out))
