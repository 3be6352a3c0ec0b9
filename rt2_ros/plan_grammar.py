"""How a point plan is written: `<label><locY><locX>` points and the offset words between them.

Apart from rt2_ros.data.plan_points (which loads pyarrow and the sim) so that the debug overlay,
drawn in the node, reads plans by the same rules without those imports.
"""

from __future__ import annotations

import re

POINT = re.compile(r"\s*([^<]*?)\s*<loc(\d{4})><loc(\d{4})>")
# word: (point, minus point), per offset style (rt2 train --plan-offsets STYLE). "gripper": the
# object from the gripper's image point. "below": the object from the point straight below the
# tool at the object's height, and that point from the gripper (the tool's height, in pixels).
OFFSET_STYLES = {
    "gripper": {"reach": ("object", "gripper"), "move": ("goal", "object")},
    "below": {"reach": ("object", "below"), "drop": ("below", "gripper"), "move": ("goal", "object")},
}
OFFSET_WORDS = tuple(sorted({word for style in OFFSET_STYLES.values() for word in style}))
