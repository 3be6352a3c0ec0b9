"""Message types by name and messages as plain data, for tools that print or compare them.

Hand-written because rosidl_runtime_py (which has message_to_ordereddict) has no PyPI wheel.
"""

from __future__ import annotations

import importlib
from typing import Any


def message_type(name: str) -> type:
    """`rt2_ros/msg/VLAAction` (or `rt2_ros/VLAAction`, `rt2_ros.msg.VLAAction`) -> the message class."""
    parts = name.replace(".", "/").split("/")
    if len(parts) == 2:
        parts = [parts[0], "msg", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"message type {name!r} is not of the form package/msg/Name")
    package, kind, class_name = parts
    try:
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"unknown message type {name!r}: {error}") from None


def message_to_dict(message: Any) -> Any:
    """A ROS message as nested dicts and lists of plain Python values (JSON-ready)."""
    if hasattr(message, "get_fields_and_field_types"):
        return {field: message_to_dict(getattr(message, field)) for field in message.get_fields_and_field_types()}
    if isinstance(message, (list, tuple)):
        return [message_to_dict(item) for item in message]
    if hasattr(message, "tolist"):  # numpy arrays and array.array of numeric fields
        return message.tolist()
    if isinstance(message, bytes):
        return list(message)
    return message
