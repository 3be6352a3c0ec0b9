"""Turn a bag's camera, instruction, twist and gripper streams into training episodes, accounting for every message.

The rules (docs/datasets.md, "From rosbags"): a step per control period that holds a twist;
action = mean twist x period (RT-2 deltas in the base frame) + the last gripper command before the
period ends; images = each camera's latest frame at the period's first twist; a new episode where
the instruction text changes. Every message read is counted as used or dropped with a reason.
Hand-written: no library aligns ROS streams into RT-2 steps.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rt2_ros.bag.reader import BagError, BagMessage, BagReader
from rt2_ros.camera_frames import BadFrameError, rgb_from_compressed, rgb_from_raw
from rt2_ros.data.episode import Episode, Step

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
TWIST_TYPES = ("geometry_msgs/msg/TwistStamped", "geometry_msgs/msg/Twist")
GRIPPER_TYPES = ("std_msgs/msg/Float64", "std_msgs/msg/Float32")
STRING_TYPES = ("std_msgs/msg/String",)


@dataclass
class ConversionOptions:
    """Topic names and conversion settings; defaults follow docs/conventions.md."""

    cameras: dict[str, str] = field(default_factory=lambda: {"scene": "/camera/color/image_raw"})  # name -> topic
    instruction_topic: str = "/instruction"
    twist_topic: str = "/servo_node/delta_twist_cmds"
    gripper_topic: str = "/gripper/command"
    task_topic: str = "/sim/task"  # optional: JSON with robot / task / seed, used when the bag has it
    success_topic: str = "/sim/success"  # optional: std_msgs/Bool
    rate_hz: float = 10.0
    base_frame: str = "base_link"
    gripper_initial: float = 0.0
    robot: str = "unknown"
    task: str = ""  # empty: the instruction
    seed: int = -1  # unknown


@dataclass
class TopicCounts:
    received: int = 0
    used: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def balanced(self) -> bool:
        return self.received == self.used + sum(self.dropped.values())


@dataclass
class ConversionReport:
    bag: str
    rate_hz: float
    topics: dict[str, TopicCounts]
    ignored_topics: dict[str, int]
    episodes: int = 0
    steps: int = 0
    periods_without_twist: int = 0

    def check(self) -> None:
        """Counts in == counts out for every converted topic, else a bug: refuse to write the dataset."""
        bad = [topic for topic, counts in self.topics.items() if not counts.balanced()]
        if bad:
            raise AssertionError(f"conversion lost track of messages on {bad}: {self.to_dict()['topics']}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "bag": self.bag,
            "rate_hz": self.rate_hz,
            "episodes": self.episodes,
            "steps": self.steps,
            "periods_without_twist": self.periods_without_twist,
            "topics": {
                topic: {"in": c.received, "used": c.used, "dropped": dict(c.dropped)}
                for topic, c in self.topics.items()
            },
            "ignored_topics": self.ignored_topics,
        }

    def summary(self) -> str:
        lines = [f"{self.episodes} episodes, {self.steps} steps at {self.rate_hz:g} Hz from {self.bag}"]
        for topic, c in self.topics.items():
            lines.append(f"  {topic}: {c.received} in, {c.used} used, {sum(c.dropped.values())} dropped")
            lines += [f"      {n} dropped: {reason}" for reason, n in sorted(c.dropped.items())]
        if self.periods_without_twist:
            lines.append(f"  {self.periods_without_twist} control periods inside episodes had no twist (no step)")
        if self.ignored_topics:
            lines.append("  not converted: " + ", ".join(f"{t} ({n})" for t, n in self.ignored_topics.items()))
        return "\n".join(lines)


@dataclass
class _Frame:
    message: BagMessage
    used: bool = False
    image: np.ndarray | None = None


@dataclass
class _OpenEpisode:
    instruction: str
    robot: str
    task: str
    seed: int
    start_ns: int
    steps: list[Step] = field(default_factory=list)
    success: bool | None = None
    anchor_ns: int | None = None  # the control grid's origin: half a period before the first twist
    period: int | None = None  # index of the open control period
    last_period: int | None = None
    first_twist_ns: int = 0  # of the open period
    step_times_ns: list[int] = field(default_factory=list)  # each step's first twist, to trace steps to the bag
    twists: list[np.ndarray] = field(default_factory=list)
    twist_count: int = 0
    images: dict[str, np.ndarray] = field(default_factory=dict)
    end_ns: int = 0


class BagConverter:
    """Runs the rules over one bag; iterate `episodes()`, then read `report`."""

    def __init__(self, reader: BagReader, options: ConversionOptions | None = None) -> None:
        self.reader = reader
        self.options = options or ConversionOptions()
        o = self.options
        if o.rate_hz <= 0:
            raise ValueError(f"the control rate must be positive, got {o.rate_hz}")
        self.period_ns = round(1e9 / o.rate_hz)
        self.period_s = self.period_ns / 1e9
        required = {f"camera {name!r}": topic for name, topic in o.cameras.items()}
        required |= {"instruction": o.instruction_topic, "twist": o.twist_topic, "gripper": o.gripper_topic}
        reader.require_topics(required)
        self._check_type(o.instruction_topic, STRING_TYPES)
        self._check_type(o.twist_topic, TWIST_TYPES)
        self._check_type(o.gripper_topic, GRIPPER_TYPES)
        for topic in o.cameras.values():
            self._check_type(topic, IMAGE_TYPES)
        self.topics = list(dict.fromkeys(required.values()))
        self.topics += [t for t in (o.task_topic, o.success_topic) if t and t in reader.topics]
        self.camera_of = {topic: name for name, topic in o.cameras.items()}
        self.report = ConversionReport(
            bag=str(reader.path),
            rate_hz=o.rate_hz,
            topics={topic: TopicCounts() for topic in self.topics},
            ignored_topics={t: i.count for t, i in sorted(reader.topics.items()) if t not in self.topics},
        )
        self._frames: dict[str, _Frame | None] = {name: None for name in o.cameras}
        self._gripper = o.gripper_initial
        self._gripper_pending = False  # the latest gripper command has not reached a step yet
        self._instruction: str | None = None
        self._episode: _OpenEpisode | None = None
        self._meta = {"robot": o.robot, "task": o.task, "seed": o.seed}
        self._ready: list[Episode] = []

    def _check_type(self, topic: str, allowed: tuple[str, ...]) -> None:
        msgtype = self.reader.topics[topic].msgtype
        if msgtype not in allowed:
            raise BagError(f"{self.reader.path}: topic {topic} has type {msgtype}, expected {' or '.join(allowed)}")

    def episodes(self, progress: Callable[[int], Any] | None = None) -> Iterator[Episode]:
        """Episodes in bag order; `progress(n)` is called with the number of messages read since the last call."""
        handlers = {self.options.instruction_topic: self._on_instruction, self.options.twist_topic: self._on_twist}
        handlers[self.options.gripper_topic] = self._on_gripper
        handlers[self.options.task_topic] = self._on_task
        handlers[self.options.success_topic] = self._on_success
        index = -1
        for index, message in enumerate(self.reader.messages(self.topics)):
            self.report.topics[message.topic].received += 1
            self._close_period_before(message.log_time_ns)
            if message.topic in self.camera_of:
                self._on_image(message)
            else:
                handlers[message.topic](message)
            yield from self._take_ready()
            if progress is not None and index % 100 == 99:
                progress(100)
        if progress is not None:
            progress((index + 1) % 100)
        self._finish_episode(reason_if_empty="no twist before the bag ended")
        for name, frame in self._frames.items():
            if frame is not None and not frame.used:
                self.report.topics[self.options.cameras[name]].drop("after the last control step")
        if self._gripper_pending:
            self.report.topics[self.options.gripper_topic].drop("after the last control step")
        yield from self._take_ready()
        self.report.check()

    def _take_ready(self) -> Iterator[Episode]:
        ready, self._ready = self._ready, []
        yield from ready

    # --- per topic -------------------------------------------------------------------------------

    def _on_image(self, message: BagMessage) -> None:
        name = self.camera_of[message.topic]
        previous = self._frames[name]
        if previous is not None and not previous.used:
            reason = "before the first instruction" if self._instruction is None else "superseded by a newer frame"
            self.report.topics[message.topic].drop(reason)
        self._frames[name] = _Frame(message)

    def _on_instruction(self, message: BagMessage) -> None:
        text = self.reader.deserialize(message).data.strip()  # the node strips too (rt2_ros.instructions)
        counts = self.report.topics[message.topic]
        if text == self._instruction:
            counts.used += 1  # a repeat of the current instruction: the episode goes on
            return
        self._finish_episode(reason_if_empty="no twist before the instruction changed")
        self._instruction = text
        if not text:
            counts.used += 1  # an empty instruction means stop: it ends the episode and starts none
            return
        self._episode = _OpenEpisode(
            instruction=text,
            robot=self._meta["robot"],
            task=self._meta["task"] or text,
            seed=self._meta["seed"],
            start_ns=message.log_time_ns,
        )

    def _on_twist(self, message: BagMessage) -> None:
        counts = self.report.topics[message.topic]
        msg = self.reader.deserialize(message)
        twist, frame_id = (msg.twist, msg.header.frame_id) if hasattr(msg, "twist") else (msg, "")
        velocity = np.array(
            [twist.linear.x, twist.linear.y, twist.linear.z, twist.angular.x, twist.angular.y, twist.angular.z]
        )
        episode = self._episode
        if episode is None:
            counts.drop("before the first instruction" if self._instruction is None else "while no instruction was set")
            return
        if not np.all(np.isfinite(velocity)):
            counts.drop("non-finite values")
            return
        if frame_id not in ("", self.options.base_frame):
            # Converting from another frame needs the robot's TF at that instant, which bags rarely hold.
            counts.drop(f"frame {frame_id!r} is not the base frame {self.options.base_frame!r}")
            return
        t = message.log_time_ns
        if episode.anchor_ns is None:
            episode.anchor_ns = t - self.period_ns // 2
        period = (t - episode.anchor_ns) // self.period_ns
        if episode.period is None:  # the first twist of a control period (an open one was closed already)
            images = self._snapshot_images(counts)
            if images is None:
                return
            if episode.last_period is not None:
                self.report.periods_without_twist += period - episode.last_period - 1
            episode.period, episode.images, episode.first_twist_ns = period, images, t
        episode.twists.append(velocity)
        episode.twist_count += 1

    def _snapshot_images(self, counts: TopicCounts) -> dict[str, np.ndarray] | None:
        """Each camera's latest frame, decoded; None (and the twist dropped) when one has none."""
        images = {}
        for name, frame in self._frames.items():
            if frame is None:
                counts.drop(f"no frame from camera {name!r} yet")
                return None
            if frame.image is None:
                try:
                    frame.image = _decode_image(self.reader.deserialize(frame.message))
                except BadFrameError as error:
                    self.report.topics[frame.message.topic].drop(f"cannot decode: {error}")
                    self._frames[name] = None
                    counts.drop(f"no usable frame from camera {name!r}")
                    return None
            images[name] = frame.image
        for frame in self._frames.values():
            if not frame.used:
                frame.used = True
                self.report.topics[frame.message.topic].used += 1
        return images

    def _on_gripper(self, message: BagMessage) -> None:
        counts = self.report.topics[message.topic]
        value = float(self.reader.deserialize(message).data)
        if not math.isfinite(value):
            counts.drop("non-finite value")
            return
        if self._gripper_pending:
            counts.drop("superseded by a later gripper command before the next step")
        self._gripper, self._gripper_pending = value, True

    def _on_task(self, message: BagMessage) -> None:
        counts = self.report.topics[message.topic]
        try:
            task = json.loads(self.reader.deserialize(message).data)
            if not isinstance(task, dict):
                raise ValueError("not an object")
        except ValueError as error:
            counts.drop(f"not a JSON object ({error})")
            return
        counts.used += 1
        self._meta.update({k: task[k] for k in ("robot", "task", "seed") if k in task})
        if self._episode is not None and not self._episode.steps:  # it describes the episode just begun
            self._episode.robot = str(self._meta["robot"])
            self._episode.task = str(self._meta["task"] or self._episode.instruction)
            self._episode.seed = int(self._meta["seed"])

    def _on_success(self, message: BagMessage) -> None:
        counts = self.report.topics[message.topic]
        if self._episode is None:
            counts.drop("outside an episode")
            return
        counts.used += 1
        self._episode.success = bool(self._episode.success) or bool(self.reader.deserialize(message).data)

    # --- steps and episodes ----------------------------------------------------------------------

    def _close_period_before(self, t: int) -> None:
        episode = self._episode
        if episode is not None and episode.period is not None:
            if t >= episode.anchor_ns + (episode.period + 1) * self.period_ns:
                self._close_period()

    def _close_period(self) -> None:
        episode = self._episode
        delta = np.mean(episode.twists, axis=0) * self.period_s
        episode.steps.append(
            Step(images=episode.images, instruction=episode.instruction, action=np.append(delta, self._gripper))
        )
        episode.step_times_ns.append(episode.first_twist_ns)
        episode.end_ns = episode.anchor_ns + (episode.period + 1) * self.period_ns
        self.report.topics[self.options.twist_topic].used += episode.twist_count
        if self._gripper_pending:
            self.report.topics[self.options.gripper_topic].used += 1
            self._gripper_pending = False
        episode.last_period, episode.period = episode.period, None
        episode.twists, episode.twist_count, episode.images = [], 0, {}

    def _finish_episode(self, reason_if_empty: str) -> None:
        episode, self._episode = self._episode, None
        if episode is None:
            return
        if episode.period is not None:
            self._episode = episode
            self._close_period()
            self._episode = None
        counts = self.report.topics[self.options.instruction_topic]
        if not episode.steps:
            counts.drop(reason_if_empty)
            return
        counts.used += 1
        episode.steps[-1].terminate = True  # the expert's convention: terminate on the last step only
        known_success = episode.success is not None
        self._ready.append(
            Episode(
                steps=episode.steps,
                robot=str(episode.robot),
                task=str(episode.task),
                seed=int(episode.seed),
                success=bool(episode.success),
                instruction=episode.instruction,
                control_rate_hz=self.options.rate_hz,
                metadata={
                    "source": "rosbag",
                    "bag": str(self.reader.path),
                    "start_time_ns": episode.start_ns,
                    "end_time_ns": episode.end_ns,
                    "success_known": known_success,
                    "step_times_ns": episode.step_times_ns,
                },
            )
        )
        self.report.episodes += 1
        self.report.steps += len(episode.steps)


def _decode_image(msg: Any) -> np.ndarray:
    if hasattr(msg, "encoding"):
        return rgb_from_raw(msg.encoding, msg.height, msg.width, msg.step, msg.data)
    return rgb_from_compressed(msg.format, msg.data)


def convert_bag(
    bag: str | Path,
    out: str | Path,
    options: ConversionOptions | None = None,
    *,
    overwrite: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> ConversionReport:
    """Convert `bag` into an episode dataset at `out` (all or nothing); returns the report, also saved in it."""
    from rt2_ros.data.dataset import EpisodeWriter

    with BagReader(bag) as reader:
        converter = BagConverter(reader, options)
        with EpisodeWriter(out, overwrite=overwrite) as writer:
            for episode in converter.episodes(progress):
                writer.add(episode)
            report = converter.report
            if report.episodes == 0:
                raise BagError(
                    f"{bag}: no episodes: no twist was commanded while an instruction was set\n" + report.summary()
                )
            writer.extra_files["meta/conversion_report.json"] = json.dumps(report.to_dict(), indent=2) + "\n"
            writer.close()
    return report
