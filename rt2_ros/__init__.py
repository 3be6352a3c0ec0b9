"""rt2_ros: an RT-2-style vision-language-action model driving a robot arm through MoveIt Servo."""

# The generated message package (rt2_ros.msg) is installed by the ROS build into site-packages,
# while the hand-written modules may be imported from a source checkout; extending __path__
# lets one `import rt2_ros` see both.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
