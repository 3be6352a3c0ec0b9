"""Closed-loop evaluation in the sim (`rt2 eval`): RT-2's categories, success rates with 95% intervals, GIFs.

rollout.py runs one episode through the node's own Supervisor; suite.py runs the cells of
rt2_ros.data.splits for one agent; report.py turns results into JSON, markdown, a PNG and a
model-card section; cli.py is the command.
"""
