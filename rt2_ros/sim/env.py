"""TabletopSim: the simulated arm, its table and its task, driven the way MoveIt Servo is driven.

This is the Python API that the ROS node, the expert, data collection and the benchmarks share.
Time is simulation time: commands carry stamps in simulation seconds, and nothing here waits on a
clock, so data collection runs as fast as the CPU allows.
"""

from __future__ import annotations

import mujoco
import numpy as np

from rt2_ros.sim.layout import Layout, PlacedObject
from rt2_ros.sim.render import Cameras
from rt2_ros.sim.scene import CAMERAS, COLOURS, SCENE_CAMERA, ObjectSlot, Scene, build_scene
from rt2_ros.sim.servo import ServoController, ServoParams, TipKinematics, solve_ik
from rt2_ros.sim.tasks import TaskInstance, sample_task
from rt2_ros.tool_points import CameraCalibration

SETTLE_TIME = 0.5  # s of physics after a reset, before the episode's time 0
HOME_TCP = np.array([0.45, 0.0, 0.30])
# Tool pointing down, fingers closing along the base x axis.
HOME_ROTATION = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def tool_rotation(yaw: float) -> np.ndarray:
    """The tool pointing down, turned by `yaw` about the base z axis from HOME_ROTATION."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ HOME_ROTATION


class TabletopSim:
    """One robot on one table. `reset(task, seed)`, then `command_twist` / `command_gripper` and `step_control`."""

    def __init__(
        self,
        robot: str = "ur5e",
        cameras: dict[str, tuple[int, int]] | None = None,
        control_rate_hz: float = 10.0,
        servo: ServoParams | None = None,
        detail_zoom: int = 1,
    ) -> None:
        """cameras: name ('scene', 'wrist') -> (height, width); None means one 224x224 scene camera, {} none.
        detail_zoom: render(camera, size) may also ask for up to this many times a camera's size (glimpses)."""
        cameras = {SCENE_CAMERA: (224, 224)} if cameras is None else cameras
        unknown = set(cameras) - set(CAMERAS)
        if unknown:
            raise ValueError(f"unknown cameras {sorted(unknown)}; the scene has {', '.join(CAMERAS)}")
        sizes = [(h * detail_zoom, w * detail_zoom) for h, w in cameras.values()] or [(64, 64)]
        self.scene: Scene = build_scene(robot, max(w for _, w in sizes), max(h for h, _ in sizes))
        self.robot = self.scene.robot.name
        self.model = self.scene.model
        self.data = mujoco.MjData(self.model)
        self.control_rate_hz = control_rate_hz
        self.substeps = max(1, round(1.0 / (control_rate_hz * self.model.opt.timestep)))
        self.kinematics = TipKinematics(self.model, self.scene.tcp_site, self.scene.arm_qpos, self.scene.arm_dofs)
        self.home_q = solve_ik(self.kinematics, np.array(self.scene.robot.ik_seed), HOME_TCP, HOME_ROTATION)
        self.servo = ServoController(
            self.model,
            self.scene.tcp_site,
            self.scene.arm_qpos,
            self.scene.arm_dofs,
            self.scene.arm_actuators,
            self.home_q,
            servo,
        )
        self.servo_every = max(1, round(self.servo.params.servo_period / self.model.opt.timestep))
        self._physics_steps = 0
        self.cameras = Cameras(self.model, cameras)
        self.task: TaskInstance | None = None
        self.gripper_command = 0.0
        self._slots: dict[str, ObjectSlot] = {}
        self._gripper_bodies = self._subtree(
            mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, self.scene.robot.gripper_body)
        )
        self.reset("pick", 0)

    def _subtree(self, root: int) -> set[int]:
        bodies = {root}
        for body in range(root + 1, self.model.nbody):
            if self.model.body_parentid[body] in bodies:
                bodies.add(body)
        return bodies

    # --- episodes -----------------------------------------------------------------------------

    def reset(self, task: str, seed: int, arm_start: tuple[np.ndarray, float] | None = None) -> TaskInstance:
        """Lay out the table for `task` from `seed`, put the arm home with the gripper open.

        arm_start: (TCP position, yaw) to start from instead of home (tool down; see expert.random_start).
        """
        self.task = sample_task(task, seed)
        mujoco.mj_resetData(self.model, self.data)
        q = self.home_q
        if arm_start is not None:
            q = solve_ik(self.kinematics, self.home_q, np.asarray(arm_start[0], float), tool_rotation(arm_start[1]))
        self.data.qpos[self.scene.arm_qpos] = q
        self._apply_layout(self.task.layout)
        self.command_gripper(0.0)
        self.data.ctrl[self.scene.arm_actuators] = q
        mujoco.mj_forward(self.model, self.data)
        self.servo.reset(q, self.data.time)
        # Let the fingers open and the objects come to rest, then start the clock: every episode
        # begins from a still scene, whatever the model's initial finger positions are.
        self._physics_steps = 0
        self.step(round(SETTLE_TIME / self.model.opt.timestep))
        self.data.time = 0.0
        self._physics_steps = 0
        self.servo.reset(self.servo.q_target, 0.0)
        self.task.start(self)
        return self.task

    def _apply_layout(self, layout: Layout) -> None:
        model, data = self.model, self.data
        free = list(self.scene.slots)
        self._slots = {}
        for slot in free:
            model.body_gravcomp[slot.body] = 1.0
            data.qpos[slot.qpos : slot.qpos + 7] = [*slot.park, 1, 0, 0, 0]
        for placed in layout.objects:
            slot = next(s for s in free if s.shape == placed.shape and s.size_name == placed.size_name)
            free.remove(slot)
            self._slots[placed.name] = slot
            model.body_gravcomp[slot.body] = 0.0
            model.geom_rgba[slot.geom] = [*COLOURS[placed.colour], 1.0]
            quat = [np.cos(placed.yaw / 2), 0, 0, np.sin(placed.yaw / 2)]
            data.qpos[slot.qpos : slot.qpos + 7] = [*placed.xy, slot.half_height, *quat]
        for symbol, mocap in self.scene.tiles.items():
            data.mocap_pos[mocap] = [*layout.tiles[symbol], 0.0] if symbol in layout.tiles else [0, 0, -2.0]
        model.geom_matid[self.scene.table_geom] = self.scene.table_materials[layout.table]

    # --- commands -----------------------------------------------------------------------------

    @property
    def time(self) -> float:
        return float(self.data.time)

    def command_twist(self, twist: np.ndarray, frame: str = "base_link", stamp: float | None = None) -> bool:
        """Twist (vx vy vz m/s, wx wy wz rad/s) in `frame`, stamped in sim seconds (default: now)."""
        return self.servo.command(np.asarray(twist, float), frame, self.time if stamp is None else stamp, self.time)

    def command_gripper(self, position: float) -> None:
        """0 = open .. 1 = closed, for either robot."""
        robot = self.scene.robot
        self.gripper_command = float(np.clip(position, 0.0, 1.0))
        self.data.ctrl[self.scene.gripper_actuator] = robot.gripper_ctrl_open + self.gripper_command * (
            robot.gripper_ctrl_closed - robot.gripper_ctrl_open
        )

    def step(self, substeps: int = 1) -> None:
        """Advance `substeps` physics steps; the controller runs every servo_period (as Servo's publish_period)."""
        dt = self.model.opt.timestep
        every = self.servo_every
        for _ in range(substeps):
            if self._physics_steps % every == 0:
                self.servo.update(self.data, self.time, dt * every)
            mujoco.mj_step(self.model, self.data)
            self._physics_steps += 1

    def step_control(self) -> None:
        """Advance one control period (0.1 s at 10 Hz)."""
        self.step(self.substeps)

    # --- observations -------------------------------------------------------------------------

    def render(self, camera: str = SCENE_CAMERA, size: tuple[int, int] | None = None) -> np.ndarray:
        """The camera's image; with `size` (height, width), the same view at that resolution."""
        return self.cameras.render(self.data, camera, size)

    def project(self, point: np.ndarray, camera: str = SCENE_CAMERA) -> np.ndarray:
        """Pixel (column, row) of world `point` in `camera`'s image, as the sim holds it now."""
        return self.cameras.project(self.data, camera, point)

    def camera_calibration(self, camera: str = SCENE_CAMERA) -> CameraCalibration:
        """`camera` as a calibrated real one is known: its intrinsics (as the sim node's CameraInfo) and its
        optical frame in the base frame (the world here: the arm stands at the origin)."""
        return self.cameras.calibration(self.data, camera)

    def pose_arm(self, position: np.ndarray, yaw: float = 0.0) -> None:
        """Put the TCP at `position` (tool down, turned by yaw) at once, by IK; for rendering, not for episodes."""
        self.data.qpos[self.scene.arm_qpos] = solve_ik(self.kinematics, self.home_q, position, tool_rotation(yaw))
        mujoco.mj_forward(self.model, self.data)

    def images(self) -> dict[str, np.ndarray]:
        return self.cameras.render_all(self.data)

    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(position, 3x3 rotation) of the tool-centre point in the base frame."""
        site = self.scene.tcp_site
        return self.data.site_xpos[site].copy(), self.data.site_xmat[site].reshape(3, 3).copy()

    def gripper_position(self) -> float:
        """Measured finger closure, 0 = open .. 1 = closed."""
        robot = self.scene.robot
        q = self.data.qpos[self.scene.finger_qpos]
        return float(
            np.clip((q - robot.finger_joint_open) / (robot.finger_joint_closed - robot.finger_joint_open), 0.0, 1.0)
        )

    def joint_state(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Arm joint names, positions and velocities, then the gripper as `gripper` (0..1, its rate)."""
        names = [*self.scene.robot.arm_joints, "gripper"]
        position = np.append(self.data.qpos[self.scene.arm_qpos], self.gripper_position())
        velocity = np.append(self.data.qvel[self.scene.arm_dofs], 0.0)
        return names, position, velocity

    # --- privileged state, for tasks and the expert --------------------------------------------

    def object(self, name: str) -> PlacedObject:
        return self.task.layout.find(name)

    def object_position(self, name: str) -> np.ndarray:
        return self.data.xpos[self._slots[name].body].copy()

    def object_rotation(self, name: str) -> np.ndarray:
        return self.data.xmat[self._slots[name].body].reshape(3, 3).copy()

    def set_object_pose(self, name: str, position: np.ndarray, yaw: float = 0.0) -> None:
        """Put an object somewhere, at rest (for tests and tools; the episode's start poses stay as they were)."""
        slot = self._slots[name]
        self.data.qpos[slot.qpos : slot.qpos + 7] = [*position, np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        self.data.qvel[slot.qvel : slot.qvel + 6] = 0
        mujoco.mj_forward(self.model, self.data)

    def touching_gripper(self, name: str) -> bool:
        geom = self._slots[name].geom
        ncon = self.data.ncon
        geom1, geom2 = self.data.contact.geom1[:ncon], self.data.contact.geom2[:ncon]
        others = np.concatenate([geom2[geom1 == geom], geom1[geom2 == geom]])
        return any(self.model.geom_bodyid[g] in self._gripper_bodies for g in others)

    def success(self) -> bool:
        return bool(self.task.success(self))

    def close(self) -> None:
        self.cameras.close()
