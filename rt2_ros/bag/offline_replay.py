"""`rt2 replay --offline BAG --model PATH`: run the Policy on a bag's frames and instructions, no DDS.

The bag is aligned into steps exactly as `rt2 bag to-episodes` does (rt2_ros.bag.convert), the
policy acts on each step's image and instruction, and the predictions are compared with the
recorded actions: per-dimension error, token accuracy (recorded action encoded with the model's
own ActionTokenizer), terminate agreement and latency. Output: report.json, actions.png and a
bag of the predictions (VLAAction, TwistStamped, Float64 on the node's topics, at the step times).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rt2_ros.bag.arm_states import ArmSettings, ArmStates
from rt2_ros.bag.convert import BagConverter, ConversionOptions
from rt2_ros.bag.reader import BagError, BagReader
from rt2_ros.bag.writer import BagWriter

ACTION_NAMES = ["dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper"]
TOKEN_NAMES = ["terminate", *ACTION_NAMES]
ACTION_TOPIC, TWIST_TOPIC, GRIPPER_TOPIC = "/rt2_node/action", "/servo_node/delta_twist_cmds", "/gripper/command"


def replay_offline(
    bag: str | Path,
    policy: Any,
    out: str | Path,
    options: ConversionOptions | None = None,
    *,
    camera: str | None = None,
    max_steps: int = 0,
    progress: Callable[[int], Any] | None = None,
    arm: ArmSettings | None = None,
) -> dict[str, Any]:
    """Replay `bag` through `policy` (rt2_ros.policy.Policy); write out/{report.json, actions.png, predictions/}.

    arm: rt2_node's tool-point parameters; each step then also gets the arm's state logged in the bag
    (rt2_ros.bag.arm_states), as the node gave it live, for models with plan_tool_points.
    """
    options = options or ConversionOptions()
    camera = camera or next(iter(options.cameras))
    if camera not in options.cameras:
        raise ValueError(f"camera {camera!r} is not one of the converted cameras {list(options.cameras)}")
    out = Path(out)
    if out.exists():
        raise BagError(f"{out} exists already; choose a new output directory")
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        rows = _run(bag, policy, tmp / "predictions", options, camera, max_steps, progress, arm)
        if not rows:
            raise BagError(f"{bag}: no steps to replay (no twist while an instruction was set)")
        report = _report(bag, policy, camera, options, rows)
        (tmp / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        _plot(rows, tmp / "actions.png", title=f"{Path(bag).name}: recorded vs {report['model']}")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _run(bag, policy, predictions: Path, options, camera, max_steps, progress, arm) -> list[dict[str, Any]]:
    tokenizer = policy.vla.actions
    period_s = 1.0 / options.rate_hz
    rows: list[dict[str, Any]] = []
    with BagReader(bag) as reader, BagWriter(predictions) as writer:
        arm_states = ArmStates(reader, arm) if arm is not None else None
        types = writer.types()
        writer.add_topic(ACTION_TOPIC, "rt2_ros/msg/VLAAction")
        writer.add_topic(TWIST_TOPIC, "geometry_msgs/msg/TwistStamped")
        writer.add_topic(GRIPPER_TOPIC, "std_msgs/msg/Float64")
        began = time.perf_counter()
        for index, episode in enumerate(BagConverter(reader, options).episodes()):
            policy.reset()  # a new episode, as the node does on a new instruction
            for step, stamp in zip(episode.steps, episode.metadata["step_times_ns"], strict=True):
                image = step.images[camera]
                view = arm_states.view(stamp, image.shape) if arm_states is not None else None
                start = time.perf_counter()
                action = policy.act(image, step.instruction, view)
                latency_ms = 1e3 * (time.perf_counter() - start)
                rows.append(
                    {
                        "episode": index,
                        "time_ns": stamp,
                        "recorded": step.action,
                        "recorded_terminate": step.terminate,
                        "recorded_tokens": tokenizer.encode(step.action, step.terminate),
                        "predicted": action.as_array(),
                        "predicted_terminate": action.terminate,
                        "predicted_tokens": np.asarray(action.tokens),
                        "latency_ms": latency_ms,
                        "model_ms": action.timing_ms.get("model", float("nan")),
                        "arm_state": view is not None,
                    }
                )
                _write_prediction(writer, types, stamp, step.instruction, action, latency_ms, policy.name, period_s)
                if progress is not None:
                    progress(1)
                if max_steps and len(rows) >= max_steps:
                    break
            if max_steps and len(rows) >= max_steps:
                break
        if rows:
            rows[0]["wall_s"] = time.perf_counter() - began
    return rows


def _write_prediction(writer, types, stamp: int, instruction: str, action, latency_ms, model, period_s) -> None:
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id="base_link"
    )
    values = action.as_array()
    message = types["rt2_ros/msg/VLAAction"](
        header=header,
        instruction=instruction,
        plan=action.plan,
        tokens=np.asarray(action.tokens, dtype=np.int32),
        action=values.astype(np.float32),
        terminate=bool(action.terminate),
        inference_ms=float(latency_ms),
        model=str(model),
    )
    writer.write(ACTION_TOPIC, stamp, message)
    # The node's own conversion (docs/conventions.md): twist = delta / control period.
    linear, angular = (types["geometry_msgs/msg/Vector3"](*map(float, v / period_s)) for v in (values[:3], values[3:6]))
    twist = types["geometry_msgs/msg/Twist"](linear=linear, angular=angular)
    writer.write(TWIST_TOPIC, stamp, types["geometry_msgs/msg/TwistStamped"](header=header, twist=twist))
    writer.write(GRIPPER_TOPIC, stamp, types["std_msgs/msg/Float64"](data=float(values[6])))


def _report(bag, policy, camera: str, options: ConversionOptions, rows: list[dict[str, Any]]) -> dict[str, Any]:
    recorded = np.array([r["recorded"] for r in rows], dtype=np.float64)
    predicted = np.array([r["predicted"] for r in rows], dtype=np.float64)
    error = predicted - recorded
    tokens_equal = np.array([r["recorded_tokens"] == r["predicted_tokens"] for r in rows])
    rec_t = np.array([r["recorded_terminate"] for r in rows])
    pred_t = np.array([r["predicted_terminate"] for r in rows])
    latency = np.array([r["latency_ms"] for r in rows])
    wall_s = rows[0]["wall_s"]
    return {
        "bag": str(bag),
        "model": str(policy.name),
        "camera": camera,
        "control_rate_hz": options.rate_hz,
        "episodes": int(rows[-1]["episode"]) + 1,
        "steps": len(rows),
        "per_dimension": {
            name: {
                "mae": float(np.abs(error[:, i]).mean()),
                "rmse": float(np.sqrt((error[:, i] ** 2).mean())),
                "max_abs": float(np.abs(error[:, i]).max()),
            }
            for i, name in enumerate(ACTION_NAMES)
        },
        "token_accuracy": {
            "all": float(tokens_equal.mean()),
            "whole_action": float(tokens_equal.all(axis=1).mean()),
            **{name: float(tokens_equal[:, i].mean()) for i, name in enumerate(TOKEN_NAMES)},
        },
        "terminate": {
            "agreement": float((rec_t == pred_t).mean()),
            "recorded_true": int(rec_t.sum()),
            "predicted_true": int(pred_t.sum()),
            "both_true": int((rec_t & pred_t).sum()),
        },
        "latency_ms": {
            "mean": float(latency.mean()),
            "p50": float(np.percentile(latency, 50)),
            "p90": float(np.percentile(latency, 90)),
            "max": float(latency.max()),
            "model_mean": float(np.nanmean([r["model_ms"] for r in rows])),
        },
        "replay_steps_per_s": len(rows) / wall_s if wall_s > 0 else float("inf"),
        "steps_with_arm_state": int(sum(r["arm_state"] for r in rows)),  # the tool points (--params-file)
        "outputs": {"plot": "actions.png", "predictions_bag": "predictions"},
    }


def _plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    recorded = np.array([r["recorded"] for r in rows])
    predicted = np.array([r["predicted"] for r in rows])
    boundaries = [i for i in range(1, len(rows)) if rows[i]["episode"] != rows[i - 1]["episode"]]
    figure, axes = plt.subplots(len(ACTION_NAMES), 1, figsize=(9, 12), sharex=True)
    for i, (axis, name) in enumerate(zip(axes, ACTION_NAMES, strict=True)):
        axis.plot(recorded[:, i], label="recorded", color="black", linewidth=1.2)
        axis.plot(predicted[:, i], label="predicted", color="tab:orange", linewidth=1.0)
        for boundary in boundaries:
            axis.axvline(boundary - 0.5, color="grey", linestyle=":", linewidth=0.8)
        axis.set_ylabel(name)
    axes[0].legend(loc="upper right", fontsize="small")
    axes[0].set_title(title)
    axes[-1].set_xlabel("step (dotted: new episode)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
