"""ROS 2 nodes: the only part of rt2_ros that imports rclpy."""
