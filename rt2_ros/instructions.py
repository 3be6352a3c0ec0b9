"""Instruction text from the wire: a std_msgs/String payload decoded defensively, or a clear reason why not.

The node subscribes to /instruction as raw bytes because rclpy turns a string with invalid UTF-8
into an exception inside the executor, which would take the node down. The CDR layout of a
std_msgs/String is short enough to read by hand: a 4-byte encapsulation header, a uint32 length
that counts the terminating NUL, the bytes, the NUL.
"""

from __future__ import annotations

import struct

MAX_INSTRUCTION_BYTES = 2048


class BadInstructionError(ValueError):
    """An instruction message the node refuses; the message says why."""


def instruction_from_cdr(payload: bytes, max_bytes: int = MAX_INSTRUCTION_BYTES) -> str:
    """Serialized std_msgs/String -> its text, stripped. Empty text is valid (it means stop)."""
    if len(payload) < 8:
        raise BadInstructionError(f"truncated message ({len(payload)} bytes)")
    little_endian = payload[1] == 1  # encapsulation kind: 0x0001 CDR_LE, 0x0000 CDR_BE
    (length,) = struct.unpack("<I" if little_endian else ">I", payload[4:8])
    if length > max_bytes + 1:
        raise BadInstructionError(f"instruction of {length - 1} bytes is longer than the limit of {max_bytes}")
    if length == 0 or 8 + length > len(payload) or payload[8 + length - 1] != 0:
        raise BadInstructionError("malformed string field")
    raw = payload[8 : 8 + length - 1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInstructionError(f"instruction is not valid UTF-8 ({error.reason} at byte {error.start})") from None
    if "\x00" in text or any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise BadInstructionError("instruction contains control characters")
    return text.strip()
