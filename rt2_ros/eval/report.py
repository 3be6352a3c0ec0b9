"""Evaluation results as files: JSON, a markdown table, a PNG of that table, GIFs, and a model-card section.

Several runs (models, or the expert) go side by side in one table: one column per label, one row per
category (its total) and per task within it; each cell is the success rate with its 95% Wilson interval.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np

from rt2_ros.eval.outcome import FAILURES
from rt2_ros.eval.rollout import EpisodeResult
from rt2_ros.eval.stats import rate_summary

FORMAT = "rt2_ros.eval/1"
CARD_BEGIN = "<!-- rt2 eval: begin (written by rt2_ros.eval.report.write_model_card) -->"
CARD_END = "<!-- rt2 eval: end -->"


@dataclass
class Run:
    """One evaluated agent: its column label, where it came from (model folder or 'expert'), its episodes."""

    label: str
    source: str
    results: list[EpisodeResult]


def summarize(results: list[EpisodeResult]) -> dict[str, Any]:
    """Success per category (with its tasks) and overall, plus timing; categories in the order they ran."""
    categories: dict[str, Any] = {}
    for category in dict.fromkeys(r.category for r in results):
        inside = [r for r in results if r.category == category]
        tasks = {
            task: rate_summary(sum(r.success for r in inside if r.task == task), sum(r.task == task for r in inside))
            for task in dict.fromkeys(r.task for r in inside)
        }
        categories[category] = {**rate_summary(sum(r.success for r in inside), len(inside)), "tasks": tasks}
    steps = sum(r.steps for r in results)
    seconds = sum(r.seconds for r in results)
    return {
        "overall": rate_summary(sum(r.success for r in results), len(results)),
        "categories": categories,
        "failures": failure_counts(results),
        "timing": {
            "episodes": len(results),
            "steps": steps,
            "seconds": round(seconds, 3),
            "seconds_per_episode": round(seconds / max(len(results), 1), 3),
            "steps_per_s": round(steps / seconds, 2) if seconds else 0.0,
            "model_ms_per_step": round(sum(r.model_ms * r.steps for r in results) / max(steps, 1), 3),
        },
    }


def failure_counts(results: list[EpisodeResult]) -> dict[str, int]:
    """How many failed episodes fall in each failure class of rt2_ros.eval.outcome, in its order."""
    found = [r.outcome.get("failure", "") for r in results if not r.success]
    return {name: found.count(name) for name in FAILURES if name in found}


def failure_table(runs: list[Run]) -> str:
    """Markdown: one row per failure class any run had, one column of counts per run ("" if none failed)."""
    counts = [failure_counts(run.results) for run in runs]
    classes = [name for name in FAILURES if any(name in c for c in counts)]
    if not classes:
        return ""
    lines = ["| why it failed | " + " | ".join(run.label for run in runs) + " |", "|" + " --- |" * (len(runs) + 1)]
    for name in classes:
        lines.append(f"| `{name}`: {FAILURES[name]} | " + " | ".join(str(c.get(name, 0)) for c in counts) + " |")
    return "\n".join(lines) + "\n"


def to_json(runs: list[Run], settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "settings": settings,
        "runs": [
            {
                "label": run.label,
                "source": run.source,
                "summary": summarize(run.results),
                "episodes": [r.to_dict() for r in run.results],
            }
            for run in runs
        ],
    }


def format_rate(summary: dict[str, Any]) -> str:
    """'85% [74-92] 51/60': rate, 95% Wilson interval in percent, successes/episodes."""
    return (
        f"{100 * summary['rate']:.0f}% [{100 * summary['low']:.0f}-{100 * summary['high']:.0f}] "
        f"{summary['successes']}/{summary['episodes']}"
    )


def table_rows(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side table (category totals in bold in markdown)."""
    summaries = [summarize(run.results) for run in runs]
    header = ["category", "task", *[run.label for run in runs]]
    rows = []
    for category, first in summaries[0]["categories"].items():
        rows.append([category, "all", *[format_rate(s["categories"][category]) for s in summaries]])
        if len(first["tasks"]) > 1:
            for task in first["tasks"]:
                rows.append(["", task, *[format_rate(s["categories"][category]["tasks"][task]) for s in summaries]])
    rows.append(["overall", "", *[format_rate(s["overall"]) for s in summaries]])
    return header, rows


def markdown_table(runs: list[Run]) -> str:
    header, rows = table_rows(runs)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        bold = row[1] in ("all", "")  # category totals and the overall row
        cells = [f"**{c}**" if bold and i >= 2 else c for i, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _skipped(settings: dict[str, Any]) -> str:
    skip = settings.get("skipped_seeds", 0)
    return f" after each cell's first {skip}" if skip else ""


def markdown_report(runs: list[Run], settings: dict[str, Any]) -> str:
    """The table with what it measured: episodes per cell, robot, camera, step limit, command."""
    notes = (
        f"Success rate [95% Wilson interval] successes/episodes; {settings['episodes_per_cell']} episodes per "
        f"(category, task), seeds from rt2_ros.data.splits.eval_seeds{_skipped(settings)}; "
        f"robot {settings['robot']}, camera {settings['camera']} {settings['image_size'][0]}x"
        f"{settings['image_size'][1]}, at most {settings['max_steps']} control steps at "
        f"{settings['control_rate_hz']:g} Hz."
    )
    command = f"\n\nMeasured with `{settings['command']}`." if settings.get("command") else ""
    failures = failure_table(runs)
    if failures:
        failures = f"\nFailed episodes by the furthest stage they reached (rt2_ros.eval.outcome):\n\n{failures}"
    return markdown_table(runs) + "\n" + notes + command + "\n" + failures


def write_png(runs: list[Run], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    header, rows = table_rows(runs)
    summaries = [summarize(run.results) for run in runs]
    figure, axis = plt.subplots(figsize=(3.2 + 2.6 * len(runs), 0.6 + 0.32 * (len(rows) + 1)))
    axis.axis("off")
    table = axis.table(cellText=rows, colLabels=header, loc="center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1.0, 1.3)
    table.auto_set_column_width(list(range(len(header))))  # long category names stay inside their cells
    rates = _row_rates(summaries)
    for (row, column), cell in table.get_celld().items():
        if row == 0 or rows[row - 1][1] in ("all", ""):  # the header, category totals and overall
            cell.set_text_props(weight="bold")
        if row == 0:
            cell.set_facecolor("#dddddd")
        elif column >= 2:
            # Shade each result from red (0%) to green (100%), lightly so the text stays readable.
            red, green = 1 - rates[row - 1][column - 2], rates[row - 1][column - 2]
            cell.set_facecolor((0.75 + 0.25 * red, 0.75 + 0.25 * green, 0.75))
    if title:
        axis.set_title(title, fontsize=10)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def _row_rates(summaries: list[dict[str, Any]]) -> list[list[float]]:
    rates = []
    for category, first in summaries[0]["categories"].items():
        rates.append([s["categories"][category]["rate"] for s in summaries])
        if len(first["tasks"]) > 1:
            rates += [[s["categories"][category]["tasks"][t]["rate"] for s in summaries] for t in first["tasks"]]
    rates.append([s["overall"]["rate"] for s in summaries])
    return rates


def write_gifs(run: Run, outdir: Path, control_rate_hz: float) -> list[Path]:
    """One GIF per recorded episode, named by label, category, task, seed and outcome; played in real time."""
    paths = []
    folder = outdir / _slug(run.label)
    for result in (r for r in run.results if r.frames):
        folder.mkdir(parents=True, exist_ok=True)
        outcome = "success" if result.success else "fail"
        path = folder / f"{result.category}_{result.task}_seed{result.seed}_{outcome}.gif"
        # As rt2_ros.sim.gif: one frame per control step; loop=0 repeats forever.
        iio.imwrite(path, np.stack(result.frames), duration=1000 / control_rate_hz, loop=0)
        paths.append(path)
    return paths


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "run"


def write_model_card(readme: str | Path, report_markdown: str, heading: str = "## Evaluation") -> Path:
    """Put the evaluation report into a model card (models/<name>/README.md), replacing an earlier one.

    The section sits between two HTML comments, so rerunning the evaluation updates it in place and
    leaves the rest of the card alone; a card without one gets the section appended.
    """
    readme = Path(readme)
    text = readme.read_text() if readme.exists() else ""
    section = f"{CARD_BEGIN}\n{heading}\n\n{report_markdown.rstrip()}\n{CARD_END}"
    if CARD_BEGIN in text and CARD_END in text:
        before, rest = text.split(CARD_BEGIN, 1)
        after = rest.split(CARD_END, 1)[1]
        text = before + section + after
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + section + "\n"
    readme.parent.mkdir(parents=True, exist_ok=True)
    readme.write_text(text)
    return readme


def write_report(runs: list[Run], settings: dict[str, Any], outdir: str | Path) -> dict[str, Path]:
    """results.json, results.md, results.png and gifs/<label>/*.gif in outdir; returns what was written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = {"json": outdir / "results.json", "markdown": outdir / "results.md", "png": outdir / "results.png"}
    written["json"].write_text(json.dumps(to_json(runs, settings), indent=2) + "\n")
    written["markdown"].write_text(markdown_report(runs, settings))
    write_png(runs, written["png"], title=" vs ".join(run.label for run in runs))
    for run in runs:
        for index, path in enumerate(write_gifs(run, outdir / "gifs", settings["control_rate_hz"])):
            written[f"gif:{run.label}:{index}"] = path
    return written
