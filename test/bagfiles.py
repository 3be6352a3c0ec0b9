"""Real bags for the bag tests: a robot run at the control rate, written by `rosbags` or by `mcap-ros2-support`.

Each control tick k publishes, in this order: a camera frame, the commanded twist 20 ms later (the
policy's latency) and the gripper command right after it; instructions arrive before the first
tick of their episode. `expected_steps` is what the conversion must give back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from rt2_ros.bag.typestore import rt2_typestore
from rt2_ros.camera_frames import compressed_from_rgb, raw_from_rgb

T0 = 1_700_000_000 * 10**9
PERIOD = 100_000_000  # 10 Hz
CAMERA = "/camera/color/image_raw"
WRIST = "/wrist_camera/color/image_raw"
INSTRUCTION = "/instruction"
TWIST = "/servo_node/delta_twist_cmds"
GRIPPER = "/gripper/command"
JOINTS = "/joint_states"
POSE = "/ee_pose"
CAMERA_INFO = "/camera/color/camera_info"


@dataclass
class Tick:
    time_ns: int
    image: np.ndarray
    wrist: np.ndarray
    twist: np.ndarray  # (6,) m/s, rad/s
    gripper: float
    instruction: str


def make_ticks(episodes: list[tuple[str, int]], seed: int = 0, size: tuple[int, int] = (24, 32)) -> list[Tick]:
    rng = np.random.default_rng(seed)
    ticks, k = [], 0
    for instruction, steps in episodes:
        for i in range(steps):
            ticks.append(
                Tick(
                    time_ns=T0 + k * PERIOD,
                    image=rng.integers(0, 256, (*size, 3), dtype=np.uint8),
                    wrist=rng.integers(0, 256, (*size, 3), dtype=np.uint8),
                    twist=np.round(rng.normal(scale=0.05, size=6), 4),
                    gripper=float(i >= steps // 2),
                    instruction=instruction,
                )
            )
            k += 1
    return ticks


def expected_action(tick: Tick) -> np.ndarray:
    return np.append(tick.twist * 0.1, tick.gripper).astype(np.float32)


def tool_position(k: int) -> np.ndarray:
    """Where the tool is at tick k in bags written with arm=True (PoseStamped on POSE, base frame)."""
    return np.array([0.1 - 0.01 * k, 0.05, 0.3])


def _messages(ticks: list[Tick], encoding: str, wrist: bool, joints: bool, arm: tuple[str, ...] = ()):
    """(topic, msgtype, time_ns, fields) in time order, as plain dicts both writers accept.

    arm: the instructions during which the arm's state goes out too: the tool's pose, the scene camera's
    CameraInfo (fx = fy = image width, centred) and the fingers' closure as the joint "gripper".
    """
    current = None
    for k, tick in enumerate(ticks):
        if tick.instruction != current:
            current = tick.instruction
            yield INSTRUCTION, "std_msgs/msg/String", tick.time_ns - 5_000_000, {"data": tick.instruction}
        if tick.instruction in arm:
            yield from _arm_state(tick, k)
        yield CAMERA, *_image(tick.image, tick.time_ns, encoding)
        if wrist:
            yield WRIST, *_image(tick.wrist, tick.time_ns + 1_000, "bgr8")
        if joints:
            yield JOINTS, "sensor_msgs/msg/JointState", tick.time_ns + 2_000, _joint_state(tick.time_ns, k)
        vx, vy, vz, wx, wy, wz = (float(v) for v in tick.twist)
        twist = {
            "header": {"stamp": _stamp(tick.time_ns), "frame_id": "base_link"},
            "twist": {"linear": {"x": vx, "y": vy, "z": vz}, "angular": {"x": wx, "y": wy, "z": wz}},
        }
        yield TWIST, "geometry_msgs/msg/TwistStamped", tick.time_ns + 20_000_000, twist
        yield GRIPPER, "std_msgs/msg/Float64", tick.time_ns + 20_100_000, {"data": tick.gripper}


def _arm_state(tick: Tick, k: int):
    time_ns, (height, width) = tick.time_ns - 1_000_000, tick.image.shape[:2]
    x, y, z = (float(v) for v in tool_position(k))
    header = {"stamp": _stamp(time_ns), "frame_id": "base_link"}
    pose = {"position": {"x": x, "y": y, "z": z}, "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}}
    yield POSE, "geometry_msgs/msg/PoseStamped", time_ns, {"header": header, "pose": pose}
    k_matrix = np.array([width, 0, width / 2, 0, width, height / 2, 0, 0, 1], dtype=float)
    info = {"header": header | {"frame_id": "camera_color_optical_frame"}, "height": height, "width": width}
    info |= {"distortion_model": "plumb_bob", "d": np.zeros(5), "k": k_matrix, "r": np.eye(3).ravel()}
    info |= {"p": np.zeros(12), "binning_x": 0, "binning_y": 0}
    info |= {"roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False}}
    yield CAMERA_INFO, "sensor_msgs/msg/CameraInfo", time_ns + 1, info
    joints = {"header": header, "name": ["gripper"], "position": np.array([tick.gripper * 0.5])}
    yield JOINTS, "sensor_msgs/msg/JointState", time_ns + 2, joints | {"velocity": np.zeros(1), "effort": np.zeros(1)}


def _stamp(time_ns: int) -> dict:
    return {"sec": time_ns // 10**9, "nanosec": time_ns % 10**9}


def _image(rgb: np.ndarray, time_ns: int, encoding: str):
    header = {"stamp": _stamp(time_ns), "frame_id": "camera_color_optical_frame"}
    if encoding in ("jpeg", "png"):
        data = np.frombuffer(compressed_from_rgb(rgb, encoding), dtype=np.uint8)
        return "sensor_msgs/msg/CompressedImage", time_ns, {"header": header, "format": encoding, "data": data}
    height, width, step, data = raw_from_rgb(rgb, encoding)
    fields = {"header": header, "height": height, "width": width, "encoding": encoding, "is_bigendian": 0}
    return "sensor_msgs/msg/Image", time_ns, fields | {"step": step, "data": np.frombuffer(data, dtype=np.uint8)}


def _joint_state(time_ns: int, k: int) -> dict:
    names = [f"joint_{i}" for i in range(6)]
    return {
        "header": {"stamp": _stamp(time_ns), "frame_id": ""},
        "name": names,
        "position": np.full(6, 0.01 * k),
        "velocity": np.zeros(6),
        "effort": np.zeros(6),
    }


def _to_rosbags(store, msgtype: str, fields):
    """Nested dicts -> rosbags message objects."""
    if not isinstance(fields, dict):
        return fields
    cls = store.types[msgtype]
    kinds = dict(store.fielddefs[msgtype][1])
    values = {}
    for name, value in fields.items():
        kind = kinds[name]
        # a nested message field is (Nodetype.NAME=2, "pkg/msg/Name")
        values[name] = _to_rosbags(store, kind[1], value) if kind[0] == 2 and isinstance(value, dict) else value
    return cls(**values)


def write_with_rosbags(
    path: Path,
    ticks: list[Tick],
    storage: str = "mcap",
    encoding: str = "rgb8",
    wrist: bool = False,
    joints: bool = False,
    arm: tuple[str, ...] = (),
) -> Path:
    store = rt2_typestore()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    messages = sorted(_messages(ticks, encoding, wrist, joints, arm), key=lambda m: m[2])
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        connections = {}
        for topic, msgtype, time_ns, fields in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], time_ns, store.serialize_cdr(_to_rosbags(store, msgtype, fields), msgtype))
    return path


def write_with_mcap_ros2(path: Path, ticks: list[Tick], encoding: str = "rgb8", wrist: bool = False) -> Path:
    """A bare .mcap file, serialized by mcap-ros2-support's own encoder (zstd chunks with CRCs)."""
    from mcap_ros2.writer import Writer as McapRos2Writer

    store = rt2_typestore()
    schemas = {}
    with open(path, "wb") as stream:
        writer = McapRos2Writer(stream, chunk_size=16 * 1024)  # small chunks: several per bag
        for topic, msgtype, time_ns, fields in sorted(_messages(ticks, encoding, wrist, False), key=lambda m: m[2]):
            if msgtype not in schemas:
                schemas[msgtype] = writer.register_msgdef(msgtype, store.generate_msgdef(msgtype, ros_version=2)[0])
            if "data" in fields and isinstance(fields["data"], np.ndarray):
                fields = fields | {"data": fields["data"].tobytes()}
            writer.write_message(topic, schemas[msgtype], fields, log_time=time_ns, publish_time=time_ns)
        writer.finish()
    return path
