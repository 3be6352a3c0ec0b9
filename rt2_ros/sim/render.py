"""Offscreen camera images from the simulation, with the settings that make them fast.

Shadows, reflections and multisampling cost 10-15x the frame rate at 224x224 on a CPU-only EGL
machine and add little a policy needs, so they are off. One mujoco.Renderer is kept per image size.
"""

from __future__ import annotations

import mujoco
import numpy as np

from rt2_ros.sim.scene import camera_fovy, pinhole_focal
from rt2_ros.tool_points import CameraCalibration


class Cameras:
    """Named cameras with their image sizes; `render(data)` gives HxWx3 uint8 images."""

    def __init__(self, model: mujoco.MjModel, sizes: dict[str, tuple[int, int]]) -> None:
        """sizes: camera name -> (height, width)."""
        self.model = model
        self.sizes = dict(sizes)
        for name in self.sizes:
            if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name) < 0:
                raise ValueError(f"no camera {name!r} in the scene")
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}

    def _renderer(self, size: tuple[int, int]) -> mujoco.Renderer:
        if size not in self._renderers:
            renderer = mujoco.Renderer(self.model, height=size[0], width=size[1])
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
            self._renderers[size] = renderer
        return self._renderers[size]

    def render(self, data: mujoco.MjData, name: str, size: tuple[int, int] | None = None) -> np.ndarray:
        """Camera `name`'s image at its size, or at `size` (height, width): the same view in more pixels."""
        renderer = self._renderer(self.sizes[name] if size is None else size)
        renderer.update_scene(data, camera=name)
        return renderer.render()

    def render_all(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
        return {name: self.render(data, name) for name in self.sizes}

    def intrinsics(self, name: str) -> tuple[int, int, float]:
        """(height, width, focal length in pixels) of an ideal pinhole camera with square pixels."""
        height, width = self.sizes[name]
        return height, width, pinhole_focal(camera_fovy(self.model, name), height)

    def project(self, data: mujoco.MjData, name: str, point: np.ndarray) -> np.ndarray:
        """Pixel (column, row) where world `point` appears in camera `name`; (0, 0) is the top-left corner."""
        height, width, focal = self.intrinsics(name)
        camera = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, name)
        # MuJoCo cameras look along their -z axis with y up (cam_xmat's columns are the camera axes).
        local = data.cam_xmat[camera].reshape(3, 3).T @ (np.asarray(point, dtype=float) - data.cam_xpos[camera])
        if local[2] >= 0:
            raise ValueError(f"point {point} is behind camera {name!r}")
        return np.array([width / 2 + focal * local[0] / -local[2], height / 2 - focal * local[1] / -local[2]])

    def calibration(self, data: mujoco.MjData, name: str) -> CameraCalibration:
        """Camera `name` as CameraInfo and a hand-eye calibration would give it (optical frame: z forward, y down)."""
        height, width, focal = self.intrinsics(name)
        camera = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, name)
        # MuJoCo's camera axes are x right, y up, z backwards; the optical frame flips y and z.
        rotation = data.cam_xmat[camera].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        position = data.cam_xpos[camera].copy()
        return CameraCalibration(width, height, focal, focal, width / 2, height / 2, rotation, position)

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
