"""The message types the bag tools know: the ROS 2 Kilted set plus rt2_ros's own, read from msg/*.msg."""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PACKAGE = "rt2_ros"


def msg_dir() -> Path | None:
    """Where rt2_ros's .msg files are: this checkout, or the share/ of a ROS or venv install."""
    candidates = [Path(__file__).resolve().parents[2] / "msg", Path(sys.prefix) / "share" / PACKAGE / "msg"]
    candidates += [Path(p) / "share" / PACKAGE / "msg" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(":") if p]
    return next((path for path in candidates if any(path.glob("*.msg"))), None)


@cache
def rt2_typestore() -> Typestore:
    """ROS 2 Kilted types + rt2_ros/msg/*; the hashes match a ROS build's, so `ros2 bag play` accepts them."""
    store = get_typestore(Stores.ROS2_KILTED)
    folder = msg_dir()
    if folder is not None:
        types = {}
        for path in sorted(folder.glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
        store.register(types)
    return store


def require_type(store: Typestore, msgtype: str) -> None:
    """Raise a clear error when `msgtype` (pkg/msg/Name) is not known to `store`."""
    if msgtype not in store.fielddefs:
        hint = "" if not msgtype.startswith(PACKAGE) else f" (rt2_ros msg/ definitions not found: {msg_dir()})"
        raise KeyError(f"unknown message type {msgtype!r}{hint}")
