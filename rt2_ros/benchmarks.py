"""`rt2 bench NAME [args]`: run the benchmark script bench/NAME.py.

Benchmarks live as scripts in bench/ (each has a `main(argv) -> int`, prints a table and saves
JSON); this finds them in a source checkout, or where the ROS build installed them.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from rt2_ros.paths import share_path


def bench_dir() -> Path:
    return share_path("bench")


def available() -> list[str]:
    return sorted(p.stem for p in bench_dir().glob("*.py") if not p.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: rt2 bench NAME [args...]\n\nbenchmarks: " + (", ".join(names) or "(none found)"))
        return 0
    if argv[0] not in names:
        print(f"rt2 bench: no benchmark {argv[0]!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    script = runpy.run_path(str(bench_dir() / f"{argv[0]}.py"), run_name="rt2_bench")
    return int(script["main"](argv[1:]) or 0)
