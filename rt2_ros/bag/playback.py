"""When to publish each recorded message during live replay, as `ros2 bag play` does: rate, start offset, loop.

ROS-free so the timing rules are tested without DDS; rt2_ros/nodes/bag_player.py does the publishing.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rosbags.interfaces import Qos, QosDurability, QosReliability

from rt2_ros.bag.reader import BagMessage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `ros2 bag play`-like options of `rt2 replay --live`."""
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default: %(default)s)")
    parser.add_argument("--loop", action="store_true", help="play again from the start until stopped")
    parser.add_argument("--start-offset", type=float, default=0.0, metavar="S", help="skip the bag's first S seconds")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these topics (default: all)")
    parser.add_argument("--delay", type=float, default=0.0, metavar="S", help="wait S seconds before playing")
    parser.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=0.0,
        metavar="S",
        help="before playing, wait up to S seconds until every topic has a subscriber",
    )


@dataclass(frozen=True)
class PlaybackOptions:
    rate: float = 1.0  # 2.0 plays twice as fast
    start_offset_s: float = 0.0  # skip the bag's first seconds
    loop: bool = False

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError(f"--rate must be positive, got {self.rate}")
        if self.start_offset_s < 0:
            raise ValueError(f"--start-offset must be >= 0, got {self.start_offset_s}")


def schedule(
    messages: Iterable[BagMessage], bag_start_ns: int, options: PlaybackOptions
) -> Iterator[tuple[float, BagMessage]]:
    """(seconds after playback starts, message) for one pass, in bag order.

    Time 0 is the bag's start plus the offset, so the first kept message waits as long as it did in
    the recording after that point; gaps are scaled by 1 / rate.
    """
    first_ns = bag_start_ns + round(options.start_offset_s * 1e9)
    for message in messages:
        if message.log_time_ns < first_ns:
            continue
        yield (message.log_time_ns - first_ns) / 1e9 / options.rate, message


@dataclass(frozen=True)
class PublisherQos:
    reliable: bool = True
    transient_local: bool = False
    depth: int = 10


def publisher_qos(recorded: list[Qos]) -> PublisherQos:
    """Offer what the recorded publishers offered; reliable and volatile when the bag did not record it.

    As `ros2 bag play`: best effort only if every recorded publisher was, transient local only if all were.
    """
    if not recorded:
        return PublisherQos()
    reliable = any(q.reliability != QosReliability.BEST_EFFORT for q in recorded)
    transient_local = all(q.durability == QosDurability.TRANSIENT_LOCAL for q in recorded)
    return PublisherQos(reliable=reliable, transient_local=transient_local, depth=max(10, *(q.depth for q in recorded)))
