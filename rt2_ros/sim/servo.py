"""A twist controller that behaves like MoveIt Servo, written out for MuJoCo.

Every physics step:
  1. the latest twist (v, w) is expressed in the base frame (commands may name the end-effector frame);
     if no command arrived within `incoming_command_timeout` it decays to zero (a smooth halt);
  2. joint velocities come from damped least squares on the TCP site's Jacobian taken at the
     *commanded* joints, as Servo does, so the integrated targets follow the twist exactly:
        dq = V diag(s / (s^2 + lambda^2)) U^T [v; w],   J = U diag(s) V^T
     with lambda growing only near a singularity (small s_min);
  3. a redundant arm (Panda) adds a null-space pull toward its home posture, so it never drifts into
     joint limits over a long episode;
  4. dq is scaled down as a whole to respect joint velocity limits (the direction is kept), and a joint
     that would enter its limit margin stops;
  5. the joint targets integrate dq, and the position actuators get target + kv/kp * dq (velocity
     feed-forward), while qfrc_applied cancels gravity and Coriolis forces (gravity compensation).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

BASE_FRAMES = ("base_link", "base", "world", "")
TOOL_FRAMES = ("tcp", "tool0", "ee", "end_effector", "ee_link")


@dataclass
class ServoParams:
    incoming_command_timeout: float = 0.1  # s, as Servo's parameter of the same name
    servo_period: float = 0.01  # s between controller updates, as Servo's publish_period; physics steps 2 ms
    halt_time_constant: float = 0.02  # s, how fast the twist decays after a timeout
    damping: float = 0.01  # lambda far from singularities; 0.05 visibly shrinks motion near home
    damping_max: float = 0.1
    singular_threshold: float = 0.04  # s_min below which damping grows
    max_linear_speed: float = 0.5  # m/s, a command above it is scaled down
    max_angular_speed: float = 2.0  # rad/s
    joint_speed_limit: float = 2.0  # rad/s for every joint
    joint_limit_margin: float = 0.05  # rad
    nullspace_gain: float = 1.0  # 1/s, redundant arms only


def rotation_vector_to_mat(rotvec: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    angle = float(np.linalg.norm(rotvec))
    mujoco.mju_axisAngle2Quat(quat, rotvec / angle if angle > 0 else np.array([1.0, 0, 0]), angle)
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    return mat.reshape(3, 3)


def orientation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotation vector (base frame) that turns `current` into `target` (both 3x3)."""
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (target @ current.T).reshape(-1))
    rotvec = np.zeros(3)
    mujoco.mju_quat2Vel(rotvec, quat, 1.0)
    return rotvec


class TipKinematics:
    """Forward kinematics and Jacobian of the TCP site at any arm configuration, on a private MjData."""

    def __init__(self, model: mujoco.MjModel, site: int, arm_qpos: np.ndarray, arm_dofs: np.ndarray) -> None:
        self.model, self.site, self.arm_qpos, self.arm_dofs = model, site, arm_qpos, arm_dofs
        self.data = mujoco.MjData(model)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def at(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(position, 3x3 rotation, 6xn Jacobian) of the TCP for arm joints q."""
        self.data.qpos[self.arm_qpos] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site)
        jac = np.vstack([self._jacp[:, self.arm_dofs], self._jacr[:, self.arm_dofs]])
        return self.data.site_xpos[self.site].copy(), self.data.site_xmat[self.site].reshape(3, 3).copy(), jac


def damped_pinv_solve(jac: np.ndarray, twist: np.ndarray, params: ServoParams) -> np.ndarray:
    u, s, vt = np.linalg.svd(jac, full_matrices=False)
    damping = params.damping
    if s[-1] < params.singular_threshold:
        damping = max(damping, params.damping_max * np.sqrt(1 - (s[-1] / params.singular_threshold) ** 2))
    return vt.T @ ((s / (s**2 + damping**2)) * (u.T @ twist))


def solve_ik(kin: TipKinematics, q0: np.ndarray, pos: np.ndarray, mat: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Joint positions that put the TCP at (pos, mat), by damped Newton steps from q0."""
    q = np.array(q0, dtype=float)
    params = ServoParams(damping=0.01)
    for _ in range(iterations):
        p, r, jac = kin.at(q)
        error = np.concatenate([pos - p, orientation_error(mat, r)])
        if np.linalg.norm(error) < 1e-7:
            break
        q += damped_pinv_solve(jac, error, params)
    return q


class ServoController:
    """Turns timestamped twist commands into arm actuator controls; see the module docstring."""

    def __init__(
        self,
        model: mujoco.MjModel,
        site: int,
        arm_qpos: np.ndarray,
        arm_dofs: np.ndarray,
        arm_actuators: np.ndarray,
        home: np.ndarray,
        params: ServoParams | None = None,
    ) -> None:
        self.params = params or ServoParams()
        self.kin = TipKinematics(model, site, arm_qpos, arm_dofs)
        self.arm_qpos, self.arm_dofs, self.arm_actuators = arm_qpos, arm_dofs, arm_actuators
        self.home = np.asarray(home, dtype=float)
        joints = model.dof_jntid[arm_dofs]
        margin = self.params.joint_limit_margin
        self.lower = model.jnt_range[joints, 0] + margin
        self.upper = model.jnt_range[joints, 1] - margin
        kp = model.actuator_gainprm[arm_actuators, 0]
        self.feed_forward = -model.actuator_biasprm[arm_actuators, 2] / kp  # kv / kp
        self.q_target = self.home.copy()
        self.twist = np.zeros(6)  # the applied twist, base frame after conversion
        self._command = np.zeros(6)
        self._frame_is_tool = False
        self._last_command_time = -np.inf
        self.halted = True

    def reset(self, q: np.ndarray, now: float) -> None:
        self.q_target = np.array(q, dtype=float)
        self.twist[:] = 0
        self._command[:] = 0
        self._last_command_time = -np.inf
        self.halted = True

    def command(self, twist: np.ndarray, frame: str, stamp: float, now: float) -> bool:
        """Accept a twist (vx vy vz wx wy wz) in `frame`; False (and ignored) if stale or in an unknown frame."""
        if now - stamp > self.params.incoming_command_timeout or not np.all(np.isfinite(twist)):
            return False
        if frame not in BASE_FRAMES + TOOL_FRAMES:
            return False
        twist = np.asarray(twist, dtype=float)
        # Scale down, keeping the direction, rather than clip components.
        linear = np.linalg.norm(twist[:3]) / self.params.max_linear_speed
        angular = np.linalg.norm(twist[3:]) / self.params.max_angular_speed
        self._command = twist / max(1.0, linear, angular)
        self._frame_is_tool = frame in TOOL_FRAMES
        self._last_command_time = stamp
        return True

    def update(self, data: mujoco.MjData, now: float, dt: float) -> None:
        """Advance the joint targets by one step of length dt and write controls and gravity compensation."""
        p = self.params
        _, rotation, jac = self.kin.at(self.q_target)
        if now - self._last_command_time <= p.incoming_command_timeout:
            command = self._command
            if self._frame_is_tool:
                command = np.concatenate([rotation @ command[:3], rotation @ command[3:]])
            self.twist = command.copy()
            self.halted = False
        else:
            self.twist *= np.exp(-dt / p.halt_time_constant)
            if np.abs(self.twist).max() < 1e-4:  # 0.1 mm/s: call it stopped
                self.twist[:] = 0
                self.halted = True
        dq = damped_pinv_solve(jac, self.twist, p) if not self.halted else np.zeros_like(self.q_target)
        if jac.shape[1] > 6 and not self.halted:
            # Null-space posture pull: moves the elbow without moving the tool.
            projector = np.eye(jac.shape[1]) - np.linalg.pinv(jac) @ jac
            dq += projector @ (p.nullspace_gain * (self.home - self.q_target))
        dq /= max(1.0, np.abs(dq).max() / p.joint_speed_limit)
        entering_limit = ((self.q_target <= self.lower) & (dq < 0)) | ((self.q_target >= self.upper) & (dq > 0))
        dq[entering_limit] = 0
        self.q_target = np.clip(
            self.q_target + dq * dt, np.minimum(self.lower, self.q_target), np.maximum(self.upper, self.q_target)
        )
        data.ctrl[self.arm_actuators] = self.q_target + self.feed_forward * dq
        data.qfrc_applied[self.arm_dofs] = data.qfrc_bias[self.arm_dofs]
