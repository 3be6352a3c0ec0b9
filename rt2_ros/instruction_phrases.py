"""What an instruction names, as a pointing question can ask for it: its object, its goal, and an object named
by attribute.

"pick the red cube up off the table" -> object "red cube"; "put the red cube onto the number 3 tile" -> goal
"number 3 tile"; "move the cube near the blue cylinder" -> goal "blue cylinder"; "pick up the cube" -> no
goal. "grab the tiniest object" -> attribute "tiniest object"; "lift the red one" -> "red one"; "pick up the
red cube" -> no attribute (the object is named by its shape, and the plan names it alike). Read by words, not
by the sim's templates (rt2_ros.sim.tasks.TEMPLATES), so other phrasings work as long as the object comes
first and the goal last. Kept apart from the sim so that Policy (in the node) reads instructions without
loading MuJoCo.
"""

from __future__ import annotations

import re

# Longer phrases first: "on top of" before "on", "next to" / "close to" before "to".
_PREPOSITIONS = "on top of|onto|on|next to|close to|to|near|beside|towards"
_DIRECTIONS = {"left", "right", "front", "back"}
_GOAL = re.compile(rf"\b(?:{_PREPOSITIONS})\s+(?:the\s+)?(?P<goal>.+?)\s*[.!]*$")
# "the <one word> object|one|thing", and "on the table" after it: the object is told apart by its attribute.
_ATTRIBUTE = re.compile(r"\bthe\s+(?P<attribute>\w+\s+(?:object|one|thing)(?:\s+on\s+the\s+table)?)\b")

# "the" and the words after it up to the first that starts a goal, a direction or another clause.
_NOT_OBJECT = (
    r"(?:on|onto|to|near|next|close|beside|towards|into|in|inside|from|at|with|over|under|above|below|behind"
    r"|and|then|up|off|left|right|front|back|\w+wards)\b"
)
_OBJECT = re.compile(rf"\bthe\s+(?P<object>(?!{_NOT_OBJECT})\w+(?:\s+(?!{_NOT_OBJECT})\w+)*)")


def object_name(instruction: str) -> str | None:
    """The object the instruction names first ("red cube", "largest thing"), without "the"; None when it names none."""
    match = _OBJECT.search(instruction.strip().lower())
    return match.group("object") if match else None


def goal_name(instruction: str) -> str | None:
    """The goal the instruction names after its first goal preposition, without "the"; None when it names none.

    A direction ("push the cube to the left") is no thing to point at: None, and a push's goal is left to the plan."""
    match = _GOAL.search(instruction.strip().lower())
    return match.group("goal") if match and match.group("goal") not in _DIRECTIONS else None


def attribute_name(instruction: str) -> str | None:
    """The object the instruction names by an attribute ("largest object", "red one"), without "the"; else None."""
    match = _ATTRIBUTE.search(instruction.strip().lower())
    return match.group("attribute") if match else None
