"""pip install of the rt2_ros Python library and its `rt2` command.

The ROS build (CMakeLists.txt) installs the same modules next to the generated messages; this
file is what `pip install .` reads on a machine that only trains, evaluates or replays.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "rt2_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="An RT-2-style vision-language-action model driving a robot arm through MoveIt Servo",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["**/*.json", "**/*.yaml", "**/*.xml", "**/*.png"]},
    # The .msg definitions, where a ROS install keeps them: the bag tools register them with rosbags.
    data_files=[(f"share/{PACKAGE}/msg", sorted(glob("msg/*.msg")))],
    install_requires=[
        "numpy",
        "pillow",
        "torch",
        "transformers>=5",
        "accelerate",
        "peft",
        "datasets",
        "tokenizers",
        "safetensors",
        "mujoco>=3.3",
        "mujoco-menagerie",
        "rosbags",
        "imageio",
        "tqdm",
        "tensorboard",
        "matplotlib",
    ],
    entry_points={
        "console_scripts": [
            "rt2 = rt2_ros.cli:main",
        ],
    },
)
