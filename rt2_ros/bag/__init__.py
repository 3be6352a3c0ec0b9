"""rosbag2 in and out without a ROS install: read, write, convert to episodes, replay (pure Python, `rosbags`)."""
