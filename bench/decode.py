"""Latency per action of the VLA's decoding paths: generate vs KV-cached loop vs parallel, fp32 vs bf16 vs int8.

For each model size (tiny, ~30M, ~100M parameters, random weights, PaliGemma-style at 224x224 for
the larger two) every variant is timed round-robin on the same images in one run, so machine
load hits them alike. "same" is the share of actions whose 8 tokens equal fp32 `generate`'s,
"same/dtype" the share equal to `generate`'s at the same precision. Random weights give nearly
flat logits, so reduced precision flips many argmaxes here; a trained model's are far apart.
"float32+compile" is fp32 with the vision tower through torch.compile (compiled in the warm-up;
skipped by --quick and --no-compile).
`--model FOLDER` adds a trained model, timed on sim frames with task instructions: with its peaked
logits, "same" then says whether bf16 / int8 keep fp32's greedy tokens on the inputs that matter.
Run: `rt2 bench decode [--quick] [--model models/rt2-sim]`; writes bench/results/decode.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from rt2_ros.vla.decoding import decode_action
from rt2_ros.vla.model import VLA
from rt2_ros.vla.tiny import SIZES, build_tiny_vla

DTYPES = ("float32", "bfloat16", "int8")
DECODINGS = ("generate", "kv", "parallel")
COMPILED = "float32+compile"
INSTRUCTION = "pick up the red cube and put it in the bowl"


def measure_size(size: str, repeats: int, warmup: int, progress, compile_: bool) -> list[dict]:
    """A random-weight model of the factory's size, on random images."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8) for _ in range(repeats)]
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"[{size}] building the model")
        folder = build_tiny_vla(Path(tmp) / f"bench-{size}", size=size, seed=0)
        return measure_folder(size, folder, images, [INSTRUCTION] * repeats, warmup, progress, compile_)


def measure_trained(folder: Path, repeats: int, warmup: int, progress, compile_: bool) -> list[dict]:
    """A trained model on the sim frames and instructions it was trained for: where "same" is meaningful."""
    from rt2_ros.sim import TabletopSim, task_names

    sim = TabletopSim("ur5e", cameras={"scene": (224, 224)})
    images, instructions = [], []
    for i in range(repeats):
        task = sim.reset(task_names()[i % len(task_names())], seed=1_000_000 + i)
        images.append(sim.render("scene"))
        instructions.append(task.instruction)
    sim.close()
    return measure_folder(folder.name, folder, images, instructions, warmup, progress, compile_)


def measure_folder(label, folder, images, instructions, warmup, progress, compile_) -> list[dict]:
    size, repeats = label, len(images)
    models = {dtype: VLA.from_pretrained(folder, dtype=dtype) for dtype in DTYPES}
    if compile_:  # torch.compile of the vision tower; its compilation happens in the warm-up
        models[COMPILED] = VLA.from_pretrained(folder, compile=True)
    n_params = sum(p.numel() for p in models["float32"].model.parameters())
    variants = [(dtype, decoding) for dtype in DTYPES for decoding in DECODINGS]
    if compile_:
        variants += [(COMPILED, "kv"), (COMPILED, "parallel")]
    prompts = [models["float32"].action_prompt(text) for text in instructions]
    inputs = {
        dtype: [vla.encode_prompt(image, prompt) for image, prompt in zip(images, prompts, strict=True)]
        for dtype, vla in models.items()
    }
    for dtype, decoding in variants:  # warm-up: first calls pay for allocation and kernel selection
        for _ in range(warmup):
            decode_action(models[dtype], inputs[dtype][0], decoding=decoding)
    times = {v: [] for v in variants}
    tokens = {v: [] for v in variants}
    for i in range(repeats):
        progress(f"[{size}] {n_params / 1e6:.0f}M parameters: round {i + 1}/{repeats}")
        for dtype, decoding in variants:
            start = time.perf_counter()
            bins = decode_action(models[dtype], inputs[dtype][i], decoding=decoding).bins
            times[(dtype, decoding)].append(1e3 * (time.perf_counter() - start))
            tokens[(dtype, decoding)].append(bins.tolist())
    reference = tokens[("float32", "generate")]
    base = float(np.median(times[("float32", "generate")]))
    rows = []
    for dtype, decoding in variants:
        ms = np.array(times[(dtype, decoding)])
        same = np.mean([a == b for a, b in zip(tokens[(dtype, decoding)], reference, strict=True)])
        own = tokens[(dtype.split("+")[0], "generate")]  # the exactness claim: vs generate at the same precision
        same_dtype = np.mean([a == b for a, b in zip(tokens[(dtype, decoding)], own, strict=True)])
        rows.append(
            {
                "size": size,
                "params_m": round(n_params / 1e6, 1),
                "dtype": dtype,
                "decoding": decoding,
                "median_ms": round(float(np.median(ms)), 2),
                "p90_ms": round(float(np.percentile(ms, 90)), 2),
                "speedup_vs_generate_fp32": round(base / float(np.median(ms)), 2),
                "same_tokens_as_generate_fp32": round(float(same), 3),
                "same_tokens_as_generate_same_dtype": round(float(same_dtype), 3),
                "n": len(ms),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    head = f"{'size':<5} {'params':>7} {'dtype':<15} {'decoding':<9} {'median ms':>10} {'p90 ms':>9}"
    head += f" {'speedup':>8} {'same':>5} {'same/dtype':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['size']:<5} {r['params_m']:>6}M {r['dtype']:<15} {r['decoding']:<9} {r['median_ms']:>10.1f} "
            f"{r['p90_ms']:>9.1f} {r['speedup_vs_generate_fp32']:>7.2f}x {r['same_tokens_as_generate_fp32']:>5.2f}"
            f" {r['same_tokens_as_generate_same_dtype']:>10.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 bench decode", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds per variant instead of --repeats")
    parser.add_argument("--repeats", type=int, default=10, help="timed actions per variant")
    # Explicit default: the three sizes, whatever other sizes the factory grows.
    parser.add_argument("--sizes", default="tiny,30m,100m", help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants (slow warm-up)")
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        default=[],
        help="also a trained model folder, on sim frames and task instructions (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "decode.json")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {', '.join(SIZES)}")
    repeats, warmup = (3, 1) if args.quick else (args.repeats, 2)
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()  # our own progress lines say enough

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.time()
    compile_ = not (args.no_compile or args.quick)
    rows = [row for size in sizes for row in measure_size(size, repeats, warmup, progress, compile_)]
    rows += [row for folder in args.model for row in measure_trained(folder, repeats, warmup, progress, compile_)]
    print(table(rows))
    goal = next((r for r in rows if (r["size"], r["dtype"], r["decoding"]) == ("30m", "float32", "kv")), None)
    result = {
        "benchmark": "decode",
        "what": "latency per 8-token action (decoding only; preprocessing excluded), random-weight models",
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "load_avg_at_start": os.getloadavg()[0],
        },
        "repeats": repeats,
        "seconds": round(time.time() - started, 1),
        "goal_30m_kv_fp32_speedup_vs_generate": goal and goal["speedup_vs_generate_fp32"],
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
