"""Training step time: float32 vs bf16 autocast, on this machine's CPU, side by side in one run.

Why it exists: `rt2 train` used to turn bf16 autocast on everywhere; on a CPU without bf16
instructions it emulates bf16 and a step took 16-27x longer. rt2_ros.autocast now decides, and this
bench shows the ratio behind that decision on whatever machine runs it. Each repeat times one
forward + backward + AdamW step of a random-weight tiny model (size `20m-96`, the default model's)
on the same batch in both modes, alternating, so machine load hits them alike.
Run: `rt2 bench train_step [--size 20m-96] [--batch-size 8] [--repeats 3]`; writes bench/results/train_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from rt2_ros.autocast import bf16_autocast_pays
from rt2_ros.vla.model import VLA
from rt2_ros.vla.tiny import build_tiny_vla
from rt2_ros.vla.training import build_example, collate

RESULTS = Path(__file__).resolve().parent / "results" / "train_step.json"
MODES = ("float32", "bf16 autocast")


def training_batch(vla: VLA, batch_size: int) -> dict[str, torch.Tensor]:
    """Random 96x96 images (the processor resizes them to the model's side) and random action targets."""
    rng = np.random.default_rng(0)
    examples = [
        build_example(
            vla,
            rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8),
            vla.action_prompt("pick up the red cube"),
            " ".join(str(b) for b in [0, *rng.integers(0, 256, size=7)]),  # terminate is 0 or 1
        )
        for _ in range(batch_size)
    ]
    return collate(examples, vla.tokenizer.pad_token_id)


def step_seconds(model, optimizer, batch, bf16: bool) -> float:
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rt2 bench train_step", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="20m-96")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        vla = VLA.from_pretrained(build_tiny_vla(Path(tmp) / "bench", size=args.size, seed=0))
    model = vla.model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = training_batch(vla, args.batch_size)
    for mode in MODES:  # warm-up: first calls allocate and pick kernels
        step_seconds(model, optimizer, batch, bf16=mode != "float32")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for repeat in range(args.repeats):
        for mode in MODES:
            times[mode].append(step_seconds(model, optimizer, batch, bf16=mode != "float32"))
        print(f"  repeat {repeat + 1}/{args.repeats}", flush=True)

    median = {mode: float(np.median(t)) for mode, t in times.items()}
    results = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpu_count": os.cpu_count()},
        "bf16_autocast_pays": bf16_autocast_pays(),
        "size": args.size,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "seconds_per_step": times,
        "median_seconds_per_step": median,
        "bf16_over_float32": median["bf16 autocast"] / median["float32"],
    }
    print(f"{'mode':<14} {'s/step (median)':>16}")
    for mode in MODES:
        print(f"{mode:<14} {median[mode]:>16.3f}")
    print(
        f"bf16 autocast takes {results['bf16_over_float32']:.2f}x float32's time per step; "
        f"rt2 train's default here: {'bf16' if results['bf16_autocast_pays'] else 'float32'}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
