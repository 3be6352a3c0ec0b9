"""Where an instruction says a carried object goes, as a name a pointing question can ask for.

"put the red cube onto the number 3 tile" -> "number 3 tile"; "move the cube near the blue cylinder"
-> "blue cylinder"; "pick up the cube" -> None. Read by its preposition, so phrasings beyond the sim's
templates (rt2_ros.sim.tasks.TEMPLATES) work as long as the goal comes last. Kept apart from the sim so
that Policy (in the node) reads instructions without loading MuJoCo.
"""

from __future__ import annotations

import re

# Longer phrases first: "on top of" before "on", "next to" / "close to" before "to".
_PREPOSITIONS = "on top of|onto|on|next to|close to|to|near|beside|towards"
_GOAL = re.compile(rf"\b(?:{_PREPOSITIONS})\s+(?:the\s+)?(?P<goal>.+?)\s*[.!]*$")


def goal_name(instruction: str) -> str | None:
    """The goal the instruction names after its first goal preposition, without "the"; None when it names none."""
    match = _GOAL.search(instruction.strip().lower())
    return match.group("goal") if match else None
