"""~/go_home: move the arm to its home pose through moveit_py on a real robot, or reset the simulation.

moveit_py exists only on a ROS install with MoveIt 2; it is imported here, when the service is
called, and its absence is reported in the service's answer.
"""

from __future__ import annotations

from rclpy.node import Node
from std_srvs.srv import Trigger


def go_home(node: Node, params) -> tuple[bool, str]:
    client = node.create_client(Trigger, params.sim_reset_service)
    try:
        if client.service_is_ready():
            client.call_async(Trigger.Request())  # the executor is busy serving us: do not wait for the answer
            return True, f"simulation reset requested on {params.sim_reset_service}"
    finally:
        node.destroy_client(client)
    return _go_home_with_moveit(node, params)


def _go_home_with_moveit(node: Node, params) -> tuple[bool, str]:
    try:
        from moveit.core.robot_state import RobotState
        from moveit.planning import MoveItPy
    except ImportError as error:
        return False, (
            f"cannot go home: no simulation reset service on {params.sim_reset_service} and moveit_py is not "
            f"installed ({error}); install ros-$ROS_DISTRO-moveit-py on the robot's computer"
        )
    moveit = MoveItPy(node_name="rt2_go_home")
    arm = moveit.get_planning_component(params.planning_group)
    arm.set_start_state_to_current_state()
    if len(params.home_joint_positions) > 1:
        state = RobotState(moveit.get_robot_model())
        state.set_joint_group_positions(params.planning_group, list(params.home_joint_positions))
        arm.set_goal_state(robot_state=state)
    else:
        arm.set_goal_state(configuration_name=params.home_named_state)
    plan = arm.plan()
    if not plan:
        return False, f"moveit_py found no plan to {params.home_named_state!r}"
    moveit.execute(plan.trajectory, controllers=[])
    return True, "moved home through moveit_py"
