"""Evaluation episodes on several worker processes, each with its own sim and one torch thread.

Episodes are independent and, for a greedy policy, repeat exactly per (task, seed), so spreading
them over processes changes only the wall clock: results come back in the order of a serial run.
Processes rather than threads because one torch thread per process keeps its speed on a busy
machine, where OpenMP threads inside one process collapse (see rt2_node's torch_threads).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context

from rt2_ros.eval.rollout import DETAIL_ZOOM, Agent, EpisodeResult, RolloutOptions, make_agent
from rt2_ros.eval.suite import EpisodeSpec, run_spec


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs to build its sim and agents."""

    robot: str
    camera: str
    size: tuple[int, int]
    options: RolloutOptions
    decoding: str = "kv"
    dtype: str = "float32"


_setup: WorkerSetup | None = None
_sim = None
_agents: dict[str, Agent] = {}


def _start_worker(setup: WorkerSetup) -> None:
    import torch

    global _setup
    torch.set_num_threads(1)
    _setup = setup


def _agent(source: str) -> Agent:
    """Each worker loads a model once, on its first episode for that model."""
    if source not in _agents:
        _agents[source] = make_agent(source, _setup.decoding, _setup.dtype, _setup.camera)
    return _agents[source]


def _run(run: int, index: int, source: str, spec: EpisodeSpec) -> tuple[int, int, EpisodeResult]:
    global _sim
    if _sim is None:
        from rt2_ros.sim.env import TabletopSim

        _sim = TabletopSim(_setup.robot, cameras={_setup.camera: _setup.size}, detail_zoom=DETAIL_ZOOM)
    return run, index, run_spec(_sim, _agent(source), spec, _setup.options)


def run_parallel(
    sources: list[str],
    specs: list[EpisodeSpec],
    setup: WorkerSetup,
    jobs: int,
    progress: Callable[[int, EpisodeResult], None] | None = None,
) -> list[list[EpisodeResult]]:
    """Every spec for every source (model folder or rollout.EXPERT) on `jobs` processes; a result list per source."""
    results: list[list[EpisodeResult | None]] = [[None] * len(specs) for _ in sources]
    # spawn, not fork: a forked copy of a process that already ran torch or EGL can hang.
    context = get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker, initargs=(setup,)) as pool:
        futures = [
            pool.submit(_run, run, index, source, spec)
            for run, source in enumerate(sources)
            for index, spec in enumerate(specs)
        ]
        for future in as_completed(futures):
            run, index, result = future.result()
            results[run][index] = result
            if progress is not None:
                progress(run, result)
    return results
