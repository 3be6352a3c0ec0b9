"""rt2_node over real DDS: image-in to twist-out latency, achieved control rate, and the ROS layer's own cost.

For each model the node runs in its own process; this process plays a 30 Hz 224x224 rgb8 camera and
an instruction (re-sent whenever the model terminates), and reads what the node reports:
- image_to_action: camera stamp -> VLAAction received here (VLAAction carries the frame's stamp), end to end;
- the node's own timings from /diagnostics: transport (publish -> receipt), decode (message -> array),
  receipt_to_policy (waiting for the next control tick included), policy, policy_to_publish (twist,
  gripper and VLAAction out), image_to_twist (receipt -> twist published);
- the achieved control rate against the configured one.
The node streams here (settle_ms -1: each action on the newest frame), so the rate measures the node and
the model; by default it waits for a frame taken after the last action, which sets the rate by design.
The ROS layer's cost is decode + policy_to_publish (what the node adds around Policy.act).
Run: `rt2 bench node [--seconds 20] [--model PATH ...]`; writes bench/results/node.json.
Models default to the tiny model taught to move (built here) and models/rt2-sim when it exists.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "models" / "rt2-sim"
CONTROL_RATE = 10.0


def build_taught_tiny_model(folder: Path) -> Path:
    """The tiny random VLA taught in a few seconds to answer "move forward" (random ones terminate at once)."""
    import torch

    from rt2_ros.vla import VLA
    from rt2_ros.vla.tiny import build_tiny_vla
    from rt2_ros.vla.training import build_example, collate

    torch.manual_seed(0)
    vla = VLA.from_pretrained(build_tiny_vla(folder / "tiny", size="tiny", vocab="added", seed=0))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for _ in range(4)]
    examples = [
        build_example(vla, i, vla.action_prompt("move forward"), "0 176 128 128 128 128 128 255") for i in images
    ]
    batch = collate(examples, pad_id=vla.tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(vla.model.parameters(), lr=3e-3)
    for _ in range(100):
        loss = vla.model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vla.save_pretrained(folder / "tiny-taught")
    return folder / "tiny-taught"


def measure(model: Path, instruction: str, seconds: float) -> dict:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.time import Time
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from rt2_ros.msg import PolicyStatus, VLAAction

    node_process = subprocess.Popen(
        [sys.executable, "-m", "rt2_ros.cli", "node", "--ros-args", "-p", f"model_path:={model}",
         "-p", f"control_rate:={CONTROL_RATE}", "-p", "pose_topic:=''", "-p", "settle_ms:=-1.0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    rclpy.init()
    bench = Node("rt2_bench_node")
    image_pub = bench.create_publisher(Image, "/camera/color/image_raw", qos_profile_sensor_data)
    instruction_pub = bench.create_publisher(String, "/instruction", 10)
    latencies, twists, diagnostics, states = [], [], [], []

    def on_action(msg: VLAAction) -> None:
        latencies.append((bench.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6)

    bench.create_subscription(VLAAction, "/rt2_node/action", on_action, 100)
    bench.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", lambda m: twists.append(m), 100)
    bench.create_subscription(DiagnosticArray, "/diagnostics", lambda m: diagnostics.append(m), 10)
    bench.create_subscription(PolicyStatus, "/rt2_node/status", lambda m: states.append(m), 10)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8).tobytes() for _ in range(8)]
    try:
        deadline = time.monotonic() + 120
        while instruction_pub.get_subscription_count() == 0:
            if node_process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rt2_node did not start: {node_process.stderr.read()[-2000:]}")
            rclpy.spin_once(bench, timeout_sec=0.1)
        instruction_pub.publish(String(data=instruction))
        start, next_frame, index = time.monotonic(), time.monotonic(), 0
        while time.monotonic() - start < seconds:
            if time.monotonic() >= next_frame:
                msg = Image(height=224, width=224, encoding="rgb8", step=224 * 3, data=frames[index % len(frames)])
                msg.header.stamp = bench.get_clock().now().to_msg()
                image_pub.publish(msg)
                index, next_frame = index + 1, next_frame + 1 / 30
            if states and states[-1].state == "terminated":
                states.clear()
                instruction_pub.publish(String(data=instruction))
            rclpy.spin_once(bench, timeout_sec=0.002)
        report = {k.key: float(k.value) for k in diagnostics[-1].status[0].values if _is_number(k.value)}
    finally:
        node_process.terminate()
        node_process.wait(timeout=20)
        bench.destroy_node()
        rclpy.try_shutdown()
    return {
        "model": str(model),
        "frames_sent": index,
        "actions": len(latencies),
        "image_to_action_ms": {"median": float(np.median(latencies)), "p99": float(np.percentile(latencies, 99))},
        "node": report,
        "achieved_control_rate_hz": len(latencies) / seconds,
        "configured_control_rate_hz": CONTROL_RATE,
    }


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def print_table(results: list[dict]) -> None:
    rows = [
        ("image -> VLAAction (end to end)", lambda r: r["image_to_action_ms"]),
        ("image receipt -> twist published", lambda r: _pair(r, "image_to_twist_ms")),
        ("  transport (publish -> receipt)", lambda r: _pair(r, "transport_ms")),
        ("  decode (message -> array)", lambda r: _pair(r, "decode_ms")),
        ("  receipt -> Policy call", lambda r: _pair(r, "receipt_to_policy_ms")),
        ("  Policy.act", lambda r: _pair(r, "policy_ms")),
        ("  Policy -> twist/action published", lambda r: _pair(r, "policy_to_publish_ms")),
    ]
    names = [Path(r["model"]).name for r in results]
    print(f"{'ms (median / p99)':<36}" + "".join(f"{n:>24}" for n in names))
    for label, get in rows:
        cells = "".join(f"{get(r)['median']:>14.1f} / {get(r)['p99']:<7.1f}" for r in results)
        print(f"{label:<36}{cells}")
    rates = "".join(
        f"{r['achieved_control_rate_hz']:>14.2f} / {r['configured_control_rate_hz']:<7.1f}" for r in results
    )
    print(f"{'control rate achieved / set (Hz)':<36}{rates}")
    for r in results:
        ros = _pair(r, "decode_ms")["median"] + _pair(r, "policy_to_publish_ms")["median"]
        share = ros / max(_pair(r, "image_to_twist_ms")["median"], 1e-9)
        print(
            f"{Path(r['model']).name}: ROS layer (decode + publish) {ros:.2f} ms median, {share:.1%} of receipt->twist"
        )


def _pair(result: dict, name: str) -> dict:
    node = result["node"]
    return {"median": node.get(f"{name}_median", float("nan")), "p99": node.get(f"{name}_p99", float("nan"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rt2 bench node", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement time per model")
    parser.add_argument("--model", action="append", type=Path, help="model folder (repeatable)")
    parser.add_argument("--instruction", default="move forward")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "node.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    with tempfile.TemporaryDirectory() as tmp:
        models = args.model or [build_taught_tiny_model(Path(tmp))] + (
            [DEFAULT_MODEL] if DEFAULT_MODEL.is_dir() else []
        )
        results = []
        for i, model in enumerate(models):
            print(f"[{i + 1}/{len(models)}] {model.name}: {args.seconds:g} s of 30 Hz camera ...", flush=True)
            results.append(measure(model, args.instruction, args.seconds))
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()}
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
