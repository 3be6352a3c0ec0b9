"""MuJoCo tabletop simulation behind MoveIt Servo's interface (no ROS here; rt2_ros.nodes.sim_node adds it).

from rt2_ros.sim import TabletopSim, run_expert
sim = TabletopSim("ur5e", cameras={"scene": (224, 224)})
episode = run_expert(sim, "pick", seed=0)   # an rt2_ros.data.episode.Episode
"""

from rt2_ros.sim.env import TabletopSim
from rt2_ros.sim.tasks import task_names

__all__ = ["TabletopSim", "task_names"]
