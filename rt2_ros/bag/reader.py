"""Read any rosbag2 (mcap or sqlite3 directory) or a bare .mcap file, with errors that say what is wrong.

A rosbag2 directory (metadata.yaml + storage files, as `ros2 bag record` or `rosbags` write it) is
read with `rosbags`; a bare .mcap file (as `mcap-ros2-support` or other tools write it, and as
`ros2 bag play` accepts) with the `mcap` library, checking chunk CRCs. Both decode messages with a
`rosbags` typestore built from the definitions stored in the bag itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore


class BagError(Exception):
    """A bag that cannot be used as asked: missing, damaged, or without a needed topic."""


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str  # pkg/msg/Name
    log_time_ns: int  # when the recorder received it
    data: bytes  # CDR, exactly as on the wire


@dataclass
class TopicInfo:
    msgtype: str
    count: int
    qos: list[Qos] = field(default_factory=list)  # the publishers' offered QoS, when the bag recorded it


class BagReader:
    """One opened bag: its topics, its messages in log-time order, and their decoding."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag (expected a rosbag2 directory or an .mcap file)")
        self._file = None
        self._any: AnyReader | None = None
        try:
            if (self.path / "metadata.yaml").is_file():
                self._open_rosbag2()
            else:
                self._open_mcap(self._mcap_file())
        except BagError:
            self.close()
            raise
        except Exception as error:  # the readers raise many types for damaged files; all mean "unreadable"
            self.close()
            raise BagError(f"{self.path}: cannot open the bag: {error}{_damage_hint(error)}") from error

    def _mcap_file(self) -> Path:
        if self.path.is_file():
            return self.path
        files = sorted(self.path.glob("*.mcap"))
        if len(files) != 1:
            raise BagError(f"{self.path}: not a bag (no metadata.yaml, and {len(files)} .mcap files instead of 1)")
        return files[0]

    def _open_rosbag2(self) -> None:
        self._any = AnyReader([self.path])
        self._any.open()
        self.storage = "sqlite3" if any(self.path.glob("*.db3")) else "mcap"
        self.typestore = self._any.typestore
        self.topics = {}
        for connection in self._any.connections:
            info = self.topics.setdefault(connection.topic, TopicInfo(connection.msgtype, 0))
            info.count += connection.msgcount
            info.qos += list(getattr(connection.ext, "offered_qos_profiles", []) or [])
        self.start_ns, self.end_ns = self._any.start_time, self._any.end_time

    def _open_mcap(self, file: Path) -> None:
        from mcap.reader import make_reader

        self.storage = "mcap"
        self._file = open(file, "rb")  # noqa: SIM115 - kept open for the reader's lifetime, closed in close()
        self._mcap = make_reader(self._file, validate_crcs=True)
        summary = self._mcap.get_summary()
        if summary is None or summary.statistics is None:
            raise BagError(
                f"{file}: the mcap file has no summary section: the recording was cut short "
                "(`mcap recover` can repair it)"
            )
        types: dict[str, Any] = {}
        for schema in summary.schemas.values():
            text = schema.data.decode()
            if schema.encoding == "ros2msg":
                types.update(get_types_from_msg(text, schema.name))
            elif schema.encoding == "ros2idl":
                types.update(get_types_from_idl(text))
        self.typestore = get_typestore(Stores.EMPTY)
        self.typestore.register(types)
        counts = summary.statistics.channel_message_counts
        self.topics = {}
        for channel_id, channel in summary.channels.items():
            schema = summary.schemas.get(channel.schema_id)
            if schema is None or channel.message_encoding != "cdr":
                continue  # not a ROS 2 channel
            info = self.topics.setdefault(channel.topic, TopicInfo(schema.name, 0))
            info.count += counts.get(channel_id, 0)
            if channel.metadata.get("offered_qos_profiles"):
                info.qos += parse_qos(channel.metadata["offered_qos_profiles"])
        self.start_ns = summary.statistics.message_start_time
        self.end_ns = summary.statistics.message_end_time

    @property
    def message_count(self) -> int:
        return sum(info.count for info in self.topics.values())

    def require_topics(self, wanted: dict[str, str]) -> None:
        """`wanted` maps role -> topic; raise one error naming every missing topic and what the bag has."""
        missing = [f"{role} topic {topic!r}" for role, topic in wanted.items() if topic not in self.topics]
        if missing:
            have = ", ".join(f"{t} ({i.msgtype}, {i.count})" for t, i in sorted(self.topics.items())) or "nothing"
            raise BagError(f"{self.path}: the bag has no {' and no '.join(missing)}; it has: {have}")

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages of `topics` (all when None) in log-time order; damage found on the way raises BagError."""
        wanted = set(self.topics if topics is None else topics)
        count = 0
        try:
            if self._any is not None:
                connections = [c for c in self._any.connections if c.topic in wanted]
                for connection, stamp, data in self._any.messages(connections=connections):
                    count += 1
                    yield BagMessage(connection.topic, connection.msgtype, stamp, bytes(data))
            else:
                for schema, channel, message in self._mcap.iter_messages(topics=list(wanted), log_time_order=True):
                    count += 1
                    yield BagMessage(channel.topic, schema.name, message.log_time, bytes(message.data))
        except Exception as error:  # see __init__: any reader failure here is damage in the file
            raise BagError(
                f"{self.path}: the bag is damaged after {count} good messages: {error}{_damage_hint(error)}"
            ) from error

    def deserialize(self, message: BagMessage) -> Any:
        """The message as a `rosbags` dataclass (fields as in the .msg; arrays as numpy)."""
        try:
            return self.typestore.deserialize_cdr(message.data, message.msgtype)
        except Exception as error:
            raise BagError(
                f"{self.path}: a {message.msgtype} on {message.topic} at t={message.log_time_ns} ns "
                f"cannot be decoded (damaged data?): {error}"
            ) from error

    def close(self) -> None:
        if self._any is not None and self._any.stack is not None:
            self._any.close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _damage_hint(error: Exception) -> str:
    text = str(error).lower()
    if any(word in text for word in ("crc", "magic", "decompress", "zstd", "lz4", "truncat", "end of", "eof")):
        return " (a corrupt or truncated chunk; re-record, or salvage with `mcap recover` / `ros2 bag reindex`)"
    return ""
