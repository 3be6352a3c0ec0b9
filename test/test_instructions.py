"""Instructions decode from the wire exactly as rclpy would, and bad ones are refused with a reason."""

from __future__ import annotations

import struct

import pytest
from rclpy.serialization import serialize_message
from std_msgs.msg import String

from rt2_ros.instructions import BadInstructionError, instruction_from_cdr


def cdr(raw: bytes) -> bytes:
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(raw) + 1) + raw + b"\x00"


@pytest.mark.parametrize("text", ["pick up the red block", "  place it on the 3  ", "", "déplace le cube ⟶ gauche"])
def test_decodes_what_rclpy_serializes(text):
    assert instruction_from_cdr(serialize_message(String(data=text))) == text.strip()


def test_too_long_is_refused_before_decoding():
    with pytest.raises(BadInstructionError, match="longer than the limit of 2048"):
        instruction_from_cdr(serialize_message(String(data="a" * 10_000_000)))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x01", "truncated"),
        (cdr(b"abc")[:-2], "malformed"),
        (cdr(b"pick \xff\xfe up"), "not valid UTF-8"),
        (cdr(b"pick\x07up"), "control characters"),
    ],
)
def test_malformed_payloads_are_refused(payload, reason):
    with pytest.raises(BadInstructionError, match=reason):
        instruction_from_cdr(payload)
