"""Where the package's data folders are: a source checkout, or the share/rt2_ros of a ROS or venv install."""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def share_path(relative: str) -> Path:
    """`config/ur5.yaml`, `bench`, `models/rt2-sim`, ... in the checkout if there, else in share/rt2_ros."""
    in_checkout = CHECKOUT / relative
    if in_checkout.exists():
        return in_checkout
    return Path(sys.prefix) / "share" / "rt2_ros" / relative
