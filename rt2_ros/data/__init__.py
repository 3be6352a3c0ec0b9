"""Datasets: robot episodes, VQA examples, their mixture, and rosbag import/export."""
