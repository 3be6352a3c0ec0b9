"""Write rosbag2 bags (mcap by default, sqlite3 on request) that `ros2 bag play` and `rosbags` read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer

from rt2_ros.bag.typestore import require_type, rt2_typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
_INFINITE = QosTime(0x7FFFFFFF, 0xFFFFFFFF)  # how rosbag2 writes "no deadline / lifespan / lease"


def qos(reliable: bool = True, depth: int = 10, transient_local: bool = False) -> Qos:
    """A QoS profile as rosbag2 stores it (the `offered_qos_profiles` that `ros2 bag play` reuses)."""
    return Qos(
        QosHistory.KEEP_LAST,
        depth,
        QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        _INFINITE,
        _INFINITE,
        QosLiveliness.AUTOMATIC,
        _INFINITE,
        False,
    )


class BagWriter:
    """A new bag at `path`: declare topics with `add_topic`, then `write` (objects) or `write_raw` (CDR)."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        self.path = Path(path)
        self.typestore = rt2_typestore()
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=STORAGES[storage])
        self._writer.open()
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}

    def add_topic(self, topic: str, msgtype: str, offered_qos: list[Qos] | None = None) -> None:
        require_type(self.typestore, msgtype)
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self.typestore, offered_qos_profiles=offered_qos or [qos()]
        )
        self.counts[topic] = 0

    def has_topic(self, topic: str) -> bool:
        return topic in self._connections

    def write_raw(self, topic: str, time_ns: int, data: bytes) -> None:
        self._writer.write(self._connections[topic], time_ns, data)
        self.counts[topic] += 1

    def write(self, topic: str, time_ns: int, message: Any) -> None:
        """Serialize a `rosbags` message object (see `types()`) and write it."""
        self.write_raw(topic, time_ns, self.typestore.serialize_cdr(message, self._connections[topic].msgtype))

    def types(self) -> dict[str, type]:
        """Message classes by name (`writer.types()["std_msgs/msg/String"](data="hi")`)."""
        return self.typestore.types

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
