"""Whether bf16 autocast speeds training up on this machine, for `rt2 train`'s default.

Why not always on: a CPU without bf16 instructions (AVX2 only, like some of the 2-core machines this
project trains on) emulates bf16 matrix products, and a training step there took 16x float32's time in
`rt2 bench train_step` and 27x in a real run (46-49 s vs 1.77 s per step of batch 16); with AVX-512
bf16 it was ~1.8x faster than float32 (models/rt2-sim/README.md, session 2).
"""

from __future__ import annotations

from pathlib import Path

import torch

# x86: AVX-512 bf16 and AMX (the `flags` line); aarch64: the bf16 extension (the `Features` line).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_has_native_bf16(cpuinfo: str) -> bool:
    """True when /proc/cpuinfo's text names an instruction set that does bf16 arithmetic in hardware."""
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & NATIVE_BF16_FLAGS)


def bf16_autocast_pays() -> bool:
    """On a GPU: whether it supports bf16. On a CPU: whether it has bf16 instructions (Linux only;
    elsewhere False, so training stays in float32 where it cannot be slowed down)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        return cpu_has_native_bf16(Path("/proc/cpuinfo").read_text())
    except OSError:
        return False
