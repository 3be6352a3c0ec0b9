"""Builds the tabletop world once per robot: table, object pool, symbol tiles, cameras, lights.

Compiling a model with the robot meshes takes about half a second, so a reset must not recompile.
The model therefore holds a fixed pool: one free body per (shape, size, copy) and one tile per
symbol. A layout picks some of them, colours them and puts them on the table; the rest are parked
far away and held still by gravity compensation. The table's look is a material swap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from rt2_ros.sim.robots import RobotConfig, robot_config, robot_spec
from rt2_ros.sim.textures import DIGITS, ICONS, TABLE_TEXTURES, table_texture, tile_texture

SHAPES = ("cube", "cylinder")
SIZES = {"small": 0.035, "medium": 0.045, "large": 0.055}  # edge length / diameter, metres
COPIES = 2  # of each (shape, size), so a scene can hold two equal objects of different colours
COLOURS = {
    "red": (0.85, 0.12, 0.10),
    "green": (0.15, 0.65, 0.20),
    "blue": (0.12, 0.30, 0.85),
    "yellow": (0.95, 0.82, 0.10),
    "purple": (0.55, 0.22, 0.72),
    "orange": (1.00, 0.50, 0.05),
}
SYMBOLS = DIGITS + ICONS
TILE_HALF = 0.04  # tiles are 8 cm squares
OBJECT_DENSITY = 500.0  # kg/m^3, like hard wood
SCENE_CAMERA = "scene"
WRIST_CAMERA = "wrist"
CAMERAS = (SCENE_CAMERA, WRIST_CAMERA)
PARK_Z = -2.0  # tiles: below the floor, out of every camera's view
TILE_QUAT = [math.cos(math.pi / 4), 0, 0, -math.sin(math.pi / 4)]  # symbols read upright in the scene camera


@dataclass(frozen=True)
class ObjectSlot:
    """One pooled free body."""

    shape: str
    size_name: str
    size: float
    body: int
    geom: int
    qpos: int  # address of its free joint in qpos (xyz, quat)
    qvel: int
    park: tuple[float, float, float]

    @property
    def half_height(self) -> float:
        return self.size / 2


@dataclass
class Scene:
    """The compiled model and the ids that the simulator needs to lay it out."""

    model: mujoco.MjModel
    robot: RobotConfig
    slots: list[ObjectSlot]
    tiles: dict[str, int]  # symbol -> mocap index
    table_geom: int
    table_materials: dict[str, int]
    tcp_site: int
    arm_qpos: np.ndarray  # qpos addresses of the arm joints
    arm_dofs: np.ndarray
    arm_actuators: np.ndarray
    gripper_actuator: int
    finger_qpos: int


def look_at_quat(pos: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quaternion of a MuJoCo camera at `pos` looking at `target` (cameras look along their -z, y is up)."""
    back = np.asarray(pos, float) - np.asarray(target, float)
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    mat = np.column_stack([right, np.cross(back, right), back])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.reshape(-1))
    return quat


def _add_texture(spec: mujoco.MjSpec, name: str, image: np.ndarray) -> None:
    texture = spec.add_texture(name=name, type=mujoco.mjtTexture.mjTEXTURE_2D)
    texture.width, texture.height, texture.nchannel = image.shape[1], image.shape[0], 3
    # MuJoCo's first texture row is the bottom of the picture.
    texture.data = np.ascontiguousarray(image[::-1]).tobytes()


def _add_table(spec: mujoco.MjSpec) -> None:
    for name in TABLE_TEXTURES:
        _add_texture(spec, f"table_{name}", table_texture(name))
        spec.add_material(name=f"table_{name}", textures=["", f"table_{name}"], texrepeat=[3, 3], texuniform=True)
    world = spec.worldbody
    # The robot stands on the table top, which is the plane z = 0 of the base frame.
    world.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        pos=[0.35, 0, -0.025],
        size=[0.6, 0.75, 0.025],
        material=f"table_{TABLE_TEXTURES[0]}",
    )
    world.add_geom(
        name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, pos=[0, 0, -0.75], size=[3, 3, 0.1], rgba=[0.35, 0.35, 0.38, 1]
    )
    world.add_light(
        name="sun",
        pos=[0.4, 0.0, 2.0],
        dir=[0, 0, -1],
        type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
        diffuse=[0.6, 0.6, 0.6],
        castshadow=False,
    )


def _add_objects(spec: mujoco.MjSpec) -> list[tuple[str, str, str, tuple[float, float, float]]]:
    pooled = []
    for shape in SHAPES:
        for size_name, size in SIZES.items():
            for copy in range(COPIES):
                name = f"{shape}_{size_name}_{copy}"
                # Behind the scene camera and above the floor plane (which collides everywhere).
                park = (3.0 + 0.3 * len(pooled), 3.0, -0.5)
                # gravcomp 1 keeps parked bodies still; a layout sets it to 0 for the ones on the table.
                body = spec.worldbody.add_body(name=name, pos=list(park), gravcomp=1.0)
                body.add_freejoint(name=name)
                geom_type = mujoco.mjtGeom.mjGEOM_BOX if shape == "cube" else mujoco.mjtGeom.mjGEOM_CYLINDER
                geom_size = [size / 2] * 3 if shape == "cube" else [size / 2, size / 2, 0]
                body.add_geom(
                    name=name,
                    type=geom_type,
                    size=geom_size,
                    density=OBJECT_DENSITY,
                    rgba=[0.5, 0.5, 0.5, 1],
                    condim=4,
                    friction=[1.0, 0.01, 0.001],
                )
                pooled.append((name, shape, size_name, park))
    return pooled


def _add_tiles(spec: mujoco.MjSpec) -> None:
    for symbol in SYMBOLS:
        # MuJoCo maps a 2D texture onto the tile's top face mirrored in u, so flip it to read correctly.
        _add_texture(spec, f"tile_{symbol}", tile_texture(symbol)[:, ::-1])
        spec.add_material(name=f"tile_{symbol}", textures=["", f"tile_{symbol}"], texuniform=False, texrepeat=[1, 1])
        body = spec.worldbody.add_body(name=f"tile_{symbol}", mocap=True, pos=[0, 0, PARK_Z])
        # Visual only: objects stand on the table through a 1 mm tile, which keeps contacts simple.
        body.add_geom(
            name=f"tile_{symbol}",
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[TILE_HALF, TILE_HALF, 0.0005],
            pos=[0, 0, 0.0006],
            quat=TILE_QUAT,
            material=f"tile_{symbol}",
            contype=0,
            conaffinity=0,
        )


def _add_cameras(spec: mujoco.MjSpec, robot: RobotConfig) -> None:
    # Across the table from the robot, looking down at the workspace, like a person watching it work.
    # Framed on the workspace so that objects and tile symbols stay several pixels wide at 96x96.
    pos = np.array([1.0, 0.0, 0.8])
    spec.worldbody.add_camera(name=SCENE_CAMERA, pos=pos, quat=look_at_quat(pos, [0.45, 0, 0.06], [0, 0, 1]), fovy=42)
    wrist_pos = np.array(robot.wrist_camera_pos)
    spec.body(robot.gripper_body).add_camera(
        name=WRIST_CAMERA, pos=wrist_pos, quat=look_at_quat(wrist_pos, robot.wrist_camera_target, [1, 0, 0]), fovy=75
    )


def build_scene(robot: str, max_width: int = 640, max_height: int = 480) -> Scene:
    """Compile the world for `robot` ('ur5e' or 'panda'); images up to max_width x max_height."""
    config = robot_config(robot)
    spec = robot_spec(robot)
    spec.visual.global_.offwidth = max(max_width, 64)
    spec.visual.global_.offheight = max(max_height, 64)
    spec.visual.quality.offsamples = 0  # multisampling costs more than it shows at 224 px
    spec.visual.headlight.ambient = [0.35, 0.35, 0.35]
    spec.visual.headlight.diffuse = [0.45, 0.45, 0.45]
    spec.option.timestep = 0.002
    _add_table(spec)
    pooled = _add_objects(spec)
    _add_tiles(spec)
    _add_cameras(spec, config)
    model = spec.compile()

    def named(kind: mujoco.mjtObj, name: str) -> int:
        index = mujoco.mj_name2id(model, kind, name)
        if index < 0:
            raise KeyError(f"{robot} model has no {kind.name} {name!r}")
        return index

    slots = []
    for name, shape, size_name, park in pooled:
        joint = named(mujoco.mjtObj.mjOBJ_JOINT, name)
        slots.append(
            ObjectSlot(
                shape=shape,
                size_name=size_name,
                size=SIZES[size_name],
                body=named(mujoco.mjtObj.mjOBJ_BODY, name),
                geom=named(mujoco.mjtObj.mjOBJ_GEOM, name),
                qpos=int(model.jnt_qposadr[joint]),
                qvel=int(model.jnt_dofadr[joint]),
                park=park,
            )
        )
    arm_joints = [named(mujoco.mjtObj.mjOBJ_JOINT, j) for j in config.arm_joints]
    return Scene(
        model=model,
        robot=config,
        slots=slots,
        tiles={s: int(model.body_mocapid[named(mujoco.mjtObj.mjOBJ_BODY, f"tile_{s}")]) for s in SYMBOLS},
        table_geom=named(mujoco.mjtObj.mjOBJ_GEOM, "table"),
        table_materials={t: named(mujoco.mjtObj.mjOBJ_MATERIAL, f"table_{t}") for t in TABLE_TEXTURES},
        tcp_site=named(mujoco.mjtObj.mjOBJ_SITE, config.tcp_site),
        arm_qpos=np.array([model.jnt_qposadr[j] for j in arm_joints]),
        arm_dofs=np.array([model.jnt_dofadr[j] for j in arm_joints]),
        arm_actuators=np.array([named(mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in config.arm_actuators]),
        gripper_actuator=named(mujoco.mjtObj.mjOBJ_ACTUATOR, config.gripper_actuator),
        finger_qpos=int(model.jnt_qposadr[named(mujoco.mjtObj.mjOBJ_JOINT, config.finger_joint)]),
    )


def camera_fovy(model: mujoco.MjModel, camera: str) -> float:
    """Vertical field of view in degrees, for the pinhole intrinsics published with each image."""
    return float(model.cam_fovy[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)])


def pinhole_focal(fovy_deg: float, height: int) -> float:
    return 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
