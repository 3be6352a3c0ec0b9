"""Robot episodes on disk: write them as a Hugging Face parquet dataset and stream them back.

The layout and every column are described in docs/datasets.md. In short: one parquet row per
control step (images as PNG bytes, instruction, 7-float action in RT-2 order, terminate, and
the episode's robot/task/seed/success), in episode order, sharded under `data/`, plus one row
per episode in `meta/episodes.parquet`. A dataset is written into a hidden temporary directory
and renamed into place only when complete, so a failed write never leaves a partial dataset.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.arrow_writer import ParquetWriter
from PIL import Image as PILImage

from rt2_ros.data.episode import ACTION_DIM, Episode, Step

FORMAT = "rt2_ros.episodes"
FORMAT_VERSION = 1
ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
# Rows per parquet row group: a streaming reader holds one row group in memory at a time.
ROW_GROUP_STEPS = 100
DEFAULT_SHARD_BYTES = 256 * 1024 * 1024


class DatasetError(Exception):
    """A dataset that cannot be written or read as asked (missing, inconsistent, not ours)."""


def step_features(cameras: list[str]) -> datasets.Features:
    """The Hugging Face features of one step row, for a dataset with these camera names."""
    return datasets.Features(
        {
            "episode_index": datasets.Value("int64"),
            "step_index": datasets.Value("int64"),
            "images": {name: datasets.Image() for name in cameras},
            "instruction": datasets.Value("string"),
            "action": datasets.Sequence(datasets.Value("float32"), length=ACTION_DIM),
            "terminate": datasets.Value("bool"),
            "robot": datasets.Value("string"),
            "task": datasets.Value("string"),
            "seed": datasets.Value("int64"),
            "success": datasets.Value("bool"),
        }
    )


EPISODE_SCHEMA = pa.schema(
    [
        ("episode_index", pa.int64()),
        ("num_steps", pa.int64()),
        ("robot", pa.string()),
        ("task", pa.string()),
        ("seed", pa.int64()),
        ("success", pa.bool_()),
        ("instruction", pa.string()),
        ("control_rate_hz", pa.float64()),
        ("metadata", pa.string()),  # JSON object
    ]
)


def encode_png(image: np.ndarray) -> bytes:
    """HxWx3 uint8 -> PNG bytes. Level 1: lossless like any level, and several times faster to write."""
    buffer = io.BytesIO()
    PILImage.fromarray(image, mode="RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class EpisodeWriter:
    """Writes episodes one at a time; `close()` publishes the dataset at `out` in one rename.

    Use as a context manager: leaving the block by an exception removes everything written.
    """

    def __init__(self, out: str | Path, *, overwrite: bool = False, shard_bytes: int = DEFAULT_SHARD_BYTES) -> None:
        self.out = Path(out)
        self.overwrite = overwrite
        self.shard_bytes = shard_bytes
        if self.out.exists() and not overwrite:
            raise DatasetError(f"{self.out} exists already; choose a new path or pass overwrite=True")
        self.tmp = self.out.parent / f".{self.out.name}.partial-{os.getpid()}"
        shutil.rmtree(self.tmp, ignore_errors=True)
        (self.tmp / "data").mkdir(parents=True)
        (self.tmp / "meta").mkdir()
        self.cameras: list[str] | None = None
        self.image_shapes: dict[str, list[int]] = {}
        self.episodes: list[dict[str, Any]] = []
        self.shards: list[Path] = []
        self.num_steps = 0
        self._shard: ParquetWriter | None = None
        self._shard_size = 0
        self.extra_files: dict[str, str] = {}

    def add(self, episode: Episode) -> None:
        """Append one episode (at least one step; the same cameras as the first episode)."""
        if not episode.steps:
            raise DatasetError(f"episode {len(self.episodes)} ({episode.instruction!r}) has no steps")
        cameras = sorted(episode.steps[0].images)
        if self.cameras is None:
            self.cameras = cameras
            self.image_shapes = {name: list(episode.steps[0].images[name].shape) for name in cameras}
        for index, step in enumerate(episode.steps):
            if sorted(step.images) != self.cameras:
                raise DatasetError(
                    f"episode {len(self.episodes)} step {index} has cameras {sorted(step.images)}, "
                    f"the dataset has {self.cameras}"
                )
        if self._shard is None or self._shard_size >= self.shard_bytes:
            self._open_shard()
        episode_index = len(self.episodes)
        for index, step in enumerate(episode.steps):
            images = {name: {"bytes": encode_png(step.images[name]), "path": None} for name in self.cameras}
            self._shard_size += sum(len(image["bytes"]) for image in images.values())
            self._shard.write(
                {
                    "episode_index": episode_index,
                    "step_index": index,
                    "images": images,
                    "instruction": step.instruction,
                    "action": step.action.tolist(),
                    "terminate": bool(step.terminate),
                    "robot": episode.robot,
                    "task": episode.task,
                    "seed": int(episode.seed),
                    "success": bool(episode.success),
                }
            )
        self.num_steps += len(episode.steps)
        self.episodes.append(
            {
                "episode_index": episode_index,
                "num_steps": len(episode.steps),
                "robot": episode.robot,
                "task": episode.task,
                "seed": int(episode.seed),
                "success": bool(episode.success),
                "instruction": episode.instruction,
                "control_rate_hz": float(episode.control_rate_hz),
                "metadata": json.dumps(episode.metadata, default=str),
            }
        )

    def _open_shard(self) -> None:
        self._close_shard()
        path = self.tmp / "data" / f"shard-{len(self.shards):05d}.parquet"
        self.shards.append(path)
        self._shard = ParquetWriter(
            features=step_features(self.cameras or []), path=str(path), writer_batch_size=ROW_GROUP_STEPS
        )
        self._shard_size = 0

    def _close_shard(self) -> None:
        if self._shard is not None:
            self._shard.finalize()
            self._shard = None

    def close(self) -> Path:
        """Finish the files and move the dataset to `out`; returns `out`."""
        if not self.episodes:
            raise DatasetError(f"no episodes to write to {self.out}")
        self._close_shard()
        # Hugging Face's split naming (train-00000-of-00002) lets `load_dataset(out)` find the shards.
        names = []
        for index, path in enumerate(self.shards):
            name = f"data/train-{index:05d}-of-{len(self.shards):05d}.parquet"
            path.rename(self.tmp / name)
            names.append(name)
        pq.write_table(pa.Table.from_pylist(self.episodes, schema=EPISODE_SCHEMA), self.tmp / "meta/episodes.parquet")
        info = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "num_episodes": len(self.episodes),
            "num_steps": self.num_steps,
            "cameras": self.cameras,
            "image_shapes": self.image_shapes,
            "action_names": ACTION_NAMES,
            "action_units": "metres / radians per control step in the robot base frame; gripper 0 open .. 1 closed",
            "control_rate_hz": sorted({e["control_rate_hz"] for e in self.episodes}),
            "data_files": names,
        }
        (self.tmp / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        (self.tmp / "README.md").write_text(_dataset_card(info))
        for name, text in self.extra_files.items():
            (self.tmp / name).write_text(text)
        old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
        if self.out.exists():  # only with overwrite=True, checked in __init__
            self.out.rename(old)
        self.tmp.rename(self.out)
        shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        """Remove everything written so far."""
        if self._shard is not None:
            self._shard.stream.close()
            self._shard = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        elif self.tmp.exists():
            self.close()


def _dataset_card(info: dict[str, Any]) -> str:
    # The YAML header is how the Hugging Face hub and `load_dataset` find the two tables.
    return (
        "---\n"
        "configs:\n"
        "- config_name: default\n"
        "  data_files:\n"
        "  - split: train\n"
        "    path: data/train-*.parquet\n"
        "- config_name: episodes\n"
        "  data_files:\n"
        "  - split: train\n"
        "    path: meta/episodes.parquet\n"
        "---\n"
        f"# rt2_ros robot episodes\n\n{info['num_episodes']} episodes, {info['num_steps']} steps, "
        f"cameras {', '.join(info['cameras'])}.\n"
        "Format: rt2_ros docs/datasets.md (one row per control step; action = dx dy dz droll dpitch dyaw gripper).\n"
    )


def write_episodes(episodes: Iterable[Episode], out: str | Path, *, overwrite: bool = False) -> Path:
    """Write all `episodes` as a dataset at `out` (all or nothing); returns `out`."""
    with EpisodeWriter(out, overwrite=overwrite) as writer:
        for episode in episodes:
            writer.add(episode)
        return writer.close()


def read_info(path: str | Path) -> dict[str, Any]:
    """The dataset's info.json (format, counts, cameras, shard names)."""
    info_path = Path(path) / "info.json"
    if not info_path.is_file():
        raise DatasetError(f"{path} is not an rt2_ros episode dataset (no info.json)")
    info = json.loads(info_path.read_text())
    if info.get("format") != FORMAT or info.get("format_version", 0) > FORMAT_VERSION:
        raise DatasetError(f"{path}: unsupported format {info.get('format')} v{info.get('format_version')}")
    return info


def read_episode_table(path: str | Path) -> list[dict[str, Any]]:
    """One dict per episode (episode_index, num_steps, robot, task, seed, success, ..., metadata as a dict)."""
    read_info(path)
    rows = pq.read_table(Path(path) / "meta/episodes.parquet").to_pylist()
    for row in rows:
        row["metadata"] = json.loads(row["metadata"])
    return rows


def load_steps(path: str | Path, *, streaming: bool = True) -> datasets.IterableDataset | datasets.Dataset:
    """The step rows as a Hugging Face dataset; images decode to PIL images on access.

    streaming=True reads the shards row group by row group, never the whole dataset at once.
    """
    info = read_info(path)
    files = [str(Path(path) / name) for name in info["data_files"]]
    return datasets.load_dataset("parquet", data_files={"train": files}, split="train", streaming=streaming)


def iter_episodes(path: str | Path) -> Iterator[Episode]:
    """Stream the dataset back as Episodes, one at a time, checking that no step is missing."""
    table = read_episode_table(path)
    steps = iter(load_steps(path, streaming=True))
    for meta in table:
        episode_steps = []
        for expected in range(meta["num_steps"]):
            row = next(steps, None)
            if row is None or (row["episode_index"], row["step_index"]) != (meta["episode_index"], expected):
                found = None if row is None else (row["episode_index"], row["step_index"])
                raise DatasetError(
                    f"{path}: expected step {expected} of episode {meta['episode_index']}, found {found}"
                )
            episode_steps.append(
                Step(
                    images={name: np.asarray(image.convert("RGB")) for name, image in row["images"].items()},
                    instruction=row["instruction"],
                    action=np.asarray(row["action"], dtype=np.float32),
                    terminate=row["terminate"],
                )
            )
        yield Episode(
            steps=episode_steps,
            robot=meta["robot"],
            task=meta["task"],
            seed=meta["seed"],
            success=meta["success"],
            instruction=meta["instruction"],
            control_rate_hz=meta["control_rate_hz"],
            metadata=meta["metadata"],
        )
    leftover = next(steps, None)
    if leftover is not None:
        raise DatasetError(f"{path}: step rows beyond the episode table, from episode {leftover['episode_index']}")
