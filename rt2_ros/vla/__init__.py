"""The RT-2 model side without ROS: a transformers VLA, its action vocabulary, decoding and training inputs."""

from rt2_ros.vla.config import CONFIG_NAME, VLAConfig
from rt2_ros.vla.model import SUPPORTED, VLA

__all__ = ["CONFIG_NAME", "SUPPORTED", "VLA", "VLAConfig"]
