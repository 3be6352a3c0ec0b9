"""VQA examples: generated from sim scenes (standing in for web data at this scale), or any HF dataset.

Questions are about what the robot data also needs: object colour, shape and size, counting,
spatial relations (left of, closest to), largest / smallest, where an object is (left or right, and
as a point in PaliGemma location tokens), the table top,
and which digit or icon is under an object (one object is put on a tile corner so the symbol
shows). Every kind has several phrasings. Scenes use *all* colours, symbols and tables, held-out
ones included (rt2_ros.data.splits): VQA is how the model meets them. "Left" is as seen in the
scene camera, the sim's convention (-y of the base frame).

On disk a VQA set is a Hugging Face dataset with columns image (PNG), question, answer, kind;
`load_vqa` also reads any other (image, question, answer) dataset by name or path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rt2_ros.data.pointing import PHRASES as POINT_PHRASES
from rt2_ros.glimpse import GLIMPSE_PHRASES, GLIMPSE_ZOOM

VQA_SEED_START = 2_000_000  # apart from robot (0..) and evaluation (1_000_000..) seeds
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six")

PHRASES: dict[str, tuple[str, ...]] = {
    "colour": ("what colour is the {ref}?", "what is the colour of the {ref}?", "which colour does the {ref} have?"),
    "shape": (
        "what shape is the {colour} object?",
        "is the {colour} object a cube or a cylinder?",
        "what is the {colour} thing?",
    ),
    "size": ("what size is the {name}?", "how big is the {name}?", "is the {name} small, medium or large?"),
    "count": ("how many {what} are on the table?", "how many {what} are there?", "count the {what}."),
    "left_of": (
        "is the {a} left of the {b}?",
        "is the {a} to the left of the {b}?",
        "is the {a} on the left side of the {b}?",
    ),
    "leftmost": (
        "which object is furthest to the {side}?",
        "what is the {side}most object?",
        "name the object on the far {side}.",
    ),
    "closest": (
        "which object is closest to the {name}?",
        "what is nearest to the {name}?",
        "which object is next to the {name}?",
    ),
    "extreme": ("which object is the {which}?", "what is the {which} object on the table?", "name the {which} object."),
    "where": (
        "is the {name} on the left or the right?",
        "which side is the {name} on?",
        "where is the {name}, left or right?",
    ),
    "table": ("what is the table top made of?", "what does the table look like?", "what kind of table is this?"),
    "under": (
        "which symbol is under the {name}?",
        "what is on the tile below the {name}?",
        "which tile is the {name} standing on?",
    ),
}
PHRASES["point"] = POINT_PHRASES  # asked on a second image with the arm moved: rt2_ros.data.pointing
PHRASES["point_tile"] = POINT_PHRASES  # tiles by their digit or icon, on both images: rt2_ros.data.pointing
PHRASES["point_attribute"] = POINT_PHRASES  # the largest, smallest or <colour> object, on both images
PHRASES["tile_glimpse"] = GLIMPSE_PHRASES  # a zoomed crop's middle tile, first image only: rt2_ros.data.tile_glimpses
KINDS = tuple(PHRASES)
# `point_tile`, `point_attribute` and `tile_glimpse` are asked for only by name, so that the sets made
# before them (scripts/training-data) come out the same from the same command.
OPT_IN_KINDS = ("point_tile", "point_attribute", "tile_glimpse")
POINT_KINDS = ("point", "point_tile", "point_attribute")  # answered with a <locY><locX> point (rt2_ros.data.pointing)
DEFAULT_KINDS = tuple(k for k in KINDS if k not in OPT_IN_KINDS)


@dataclass
class VQAExample:
    image: Any  # HxWx3 uint8 array or PIL image
    question: str
    answer: str
    kind: str = ""


def _scene_facts(sim) -> list[dict[str, Any]]:
    return [
        {"name": o.name, "colour": o.colour, "shape": o.shape, "size_name": o.size_name, "size": o.size,
         "xy": sim.object_position(o.name)[:2]}
        for o in sim.task.layout.objects
    ]  # fmt: skip


def _put_on_tile(sim, rng: np.random.Generator) -> tuple[str, str] | None:
    """Move a random object onto a corner of a random tile (the symbol stays mostly in view)."""
    tiles = sim.task.layout.tiles
    if not tiles:
        return None
    symbol = str(rng.choice(sorted(tiles)))
    obj = sim.task.layout.objects[int(rng.integers(len(sim.task.layout.objects)))]
    # On the far corner as the scene camera sees it (the camera sits at +x), so the object stands
    # behind the symbol rather than on it.
    corner = np.array([-0.025, float(rng.choice([-0.025, 0.025]))])
    xy = np.array(tiles[symbol]) + corner
    sim.set_object_pose(obj.name, np.array([*xy, obj.size / 2 + 0.001]), yaw=obj.yaw)
    return obj.name, symbol


def questions_for_scene(sim, rng: np.random.Generator, on_tile: tuple[str, str] | None) -> list[tuple[str, str, str]]:
    """(kind, question, answer) triples true of the scene as the sim holds it now."""
    objs = _scene_facts(sim)
    out: list[tuple[str, str, str]] = []

    def ask(kind: str, answer: str, **fields: str) -> None:
        out.append((kind, str(rng.choice(PHRASES[kind])).format(**fields), answer))

    o = objs[int(rng.integers(len(objs)))]
    same = [p for p in objs if p["shape"] == o["shape"] and p["size_name"] == o["size_name"]]
    if len(same) == 1:  # the colour question must name the object without its colour
        ask("colour", o["colour"], ref=f"{o['size_name']} {o['shape']}")
    o = objs[int(rng.integers(len(objs)))]
    ask("shape", o["shape"], colour=o["colour"])
    o = objs[int(rng.integers(len(objs)))]
    ask("size", o["size_name"], name=o["name"])
    what = str(rng.choice(["objects", "cubes", "cylinders", "tiles"]))
    n = len(sim.task.layout.tiles) if what == "tiles" else sum(what in ("objects", p["shape"] + "s") for p in objs)
    ask("count", NUMBERS[n], what=what)
    a, b = rng.choice(len(objs), size=2, replace=False)
    a, b = objs[a], objs[b]
    if abs(a["xy"][1] - b["xy"][1]) > 0.03:  # clearly apart, so yes/no is not a coin toss in the picture
        ask("left_of", "yes" if a["xy"][1] < b["xy"][1] else "no", a=a["name"], b=b["name"])
    side = str(rng.choice(["left", "right"]))
    ordered = sorted(objs, key=lambda p: p["xy"][1])
    ends = ordered if side == "left" else ordered[::-1]
    if abs(ends[0]["xy"][1] - ends[1]["xy"][1]) > 0.03:
        ask("leftmost", ends[0]["name"], side=side)
    o = objs[int(rng.integers(len(objs)))]
    others = sorted((np.linalg.norm(p["xy"] - o["xy"]), p["name"]) for p in objs if p is not o)
    if len(others) == 1 or others[1][0] - others[0][0] > 0.03:
        ask("closest", others[0][1], name=o["name"])
    which = str(rng.choice(["largest", "smallest"]))
    by_size = sorted(objs, key=lambda p: p["size"], reverse=which == "largest")
    if by_size[0]["size"] != by_size[1]["size"]:
        ask("extreme", by_size[0]["name"], which=which)
    o = objs[int(rng.integers(len(objs)))]
    if abs(o["xy"][1]) > 0.04:
        ask("where", "left" if o["xy"][1] < 0 else "right", name=o["name"])
    ask("table", sim.task.layout.table)
    if on_tile is not None:
        ask("under", on_tile[1], name=on_tile[0])
    return out


def generate_sim_vqa(
    n_scenes: int,
    *,
    robot: str = "ur5e",
    size: int = 96,
    camera: str = "scene",
    seed: int = VQA_SEED_START,
    tile_fraction: float = 0.5,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
    home_pointing: bool = False,
    tasks: tuple[str, ...] | None = None,
    glimpse_zoom: int = GLIMPSE_ZOOM,
    progress: bool = False,
) -> Iterator[VQAExample]:
    """Examples from `n_scenes` scenes (seeds seed..seed+n-1), all questions true of each rendered image.

    kinds: the question kinds to keep. `point` (where the gripper and the objects are,
    rt2_ros.data.pointing) is asked on a second image of the same scene with the arm moved to a
    random pose; home_pointing also asks it on the first image, with the arm at home as every robot
    episode starts: a model that finds the named object only once the arm is near it fails there.
    `point_tile` (each tile by its digit or icon) and `point_attribute` (the largest, smallest and a
    <colour> object, as pick_attribute names them) are asked on both images. `tile_glimpse` (the symbol
    in the middle of a crop of 1/glimpse_zoom of a glimpse_zoom times sharper render, rt2_ros.glimpse)
    is asked on the first image, where decoding asks it.
    tasks: the tasks whose layouts the scenes take, in turn (None: all; place_on_tile always has 3 tiles).
    """
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown question kinds {sorted(unknown)}; kinds are {', '.join(KINDS)}")
    from tqdm import tqdm

    from rt2_ros.data.pointing import (
        attribute_point_questions,
        point_questions,
        pose_arm_randomly,
        tile_point_questions,
    )
    from rt2_ros.data.tile_glimpses import glimpse_questions
    from rt2_ros.sim import TabletopSim
    from rt2_ros.sim.tasks import task_names

    unknown_tasks = set(tasks or ()) - set(task_names())
    if unknown_tasks or tasks == ():
        raise ValueError(f"unknown tasks {sorted(unknown_tasks)}; tasks are {', '.join(task_names())}")
    tasks = list(tasks) if tasks else task_names()
    zoom = glimpse_zoom if "tile_glimpse" in kinds else 1
    sim = TabletopSim(robot, cameras={camera: (size, size)}, detail_zoom=zoom)
    try:
        for scene in tqdm(range(seed, seed + n_scenes), desc="vqa scenes", disable=not progress):
            rng = np.random.default_rng([scene, 7])
            sim.reset(tasks[scene % len(tasks)], scene)
            on_tile = _put_on_tile(sim, rng) if "under" in kinds and rng.random() < tile_fraction else None
            image = sim.render(camera)
            asked = questions_for_scene(sim, rng, on_tile) if set(kinds) & set(DEFAULT_KINDS) - {"point"} else []
            if home_pointing and "point" in kinds:
                asked += point_questions(sim, rng, camera)
            if "point_tile" in kinds:
                asked += tile_point_questions(sim, rng, camera)
            if "point_attribute" in kinds:
                asked += attribute_point_questions(sim, rng, camera)
            for kind, question, answer in asked:
                if kind in kinds:
                    yield VQAExample(image=image, question=question, answer=answer, kind=kind)
            if "tile_glimpse" in kinds:
                for glimpse, question, answer in glimpse_questions(sim, rng, zoom, camera):
                    yield VQAExample(image=glimpse, question=question, answer=answer, kind="tile_glimpse")
            if set(POINT_KINDS) & set(kinds):
                pose_arm_randomly(sim, rng)
                image = sim.render(camera)
                moved = point_questions(sim, rng, camera) if "point" in kinds else []
                moved += tile_point_questions(sim, rng, camera) if "point_tile" in kinds else []
                moved += attribute_point_questions(sim, rng, camera) if "point_attribute" in kinds else []
                for kind, question, answer in moved:
                    yield VQAExample(image=image, question=question, answer=answer, kind=kind)
    finally:
        sim.close()


def write_vqa(examples: Iterator[VQAExample], out: str | Path) -> Path:
    """Save examples as a Hugging Face dataset (parquet, images as PNG) that load_vqa reads back."""
    import datasets

    from rt2_ros.data.dataset import encode_png

    rows: dict[str, list] = {"image": [], "question": [], "answer": [], "kind": []}
    for example in examples:
        image = example.image if isinstance(example.image, np.ndarray) else np.asarray(example.image.convert("RGB"))
        rows["image"].append({"bytes": encode_png(image), "path": None})
        rows["question"].append(example.question)
        rows["answer"].append(example.answer)
        rows["kind"].append(example.kind)
    features = datasets.Features(
        image=datasets.Image(), question=datasets.Value("string"), answer=datasets.Value("string"),
        kind=datasets.Value("string"),
    )  # fmt: skip
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(str(out / "train.parquet"))
    return out


def load_vqa(
    name_or_path: str | Path,
    *,
    split: str = "train",
    image_column: str = "image",
    question_column: str = "question",
    answer_column: str = "answer",
):
    """A map-style HF dataset with image, question, answer columns: a write_vqa folder, a hub name or a path.

    Datasets whose answer column holds a list (e.g. VQAv2's several annotators) use its first answer.
    """
    import datasets

    path = Path(str(name_or_path))
    if (path / "train.parquet").is_file():
        data = datasets.load_dataset("parquet", data_files={"train": str(path / "train.parquet")}, split=split)
    else:
        data = datasets.load_dataset(str(name_or_path), split=split)
    missing = [c for c in (image_column, question_column, answer_column) if c not in data.column_names]
    if missing:
        raise ValueError(f"VQA dataset {name_or_path} lacks columns {missing}; it has {data.column_names}")
    renames = {image_column: "image", question_column: "question", answer_column: "answer"}
    data = data.rename_columns({k: v for k, v in renames.items() if k != v})
    if isinstance(data.features["answer"], datasets.Sequence | list):
        data = data.map(lambda row: {"answer": row["answer"][0]})
    return data


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="rt2 vqa", description="generate a sim VQA dataset")
    parser.add_argument("out", type=Path)
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--robot", choices=["ur5e", "panda"], default="ur5e")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=VQA_SEED_START)
    parser.add_argument(
        "--kinds", nargs="+", choices=KINDS, default=list(DEFAULT_KINDS),
        help=f"question kinds to keep (default: all but {', '.join(OPT_IN_KINDS)})",
    )  # fmt: skip
    parser.add_argument("--tasks", nargs="+", help="take scene layouts from these tasks only (default: all)")
    parser.add_argument(
        "--glimpse-zoom",
        type=int,
        default=GLIMPSE_ZOOM,
        help="tile_glimpse: the crop is 1/ZOOM of a ZOOM times sharper render",
    )
    parser.add_argument(
        "--home-pointing", action="store_true", help="also ask point questions with the arm at home (episode start)"
    )
    args = parser.parse_args(argv)
    examples = generate_sim_vqa(
        args.scenes, robot=args.robot, size=args.size, seed=args.seed, kinds=tuple(args.kinds),
        home_pointing=args.home_pointing, tasks=tuple(args.tasks) if args.tasks else None,
        glimpse_zoom=args.glimpse_zoom, progress=True,
    )  # fmt: skip
    write_vqa(examples, args.out)
    data = load_vqa(args.out)
    kinds = {k: data["kind"].count(k) for k in KINDS}
    print(
        f"wrote {args.out}: {len(data)} examples from {args.scenes} scenes; "
        + ", ".join(f"{k} {n}" for k, n in kinds.items())
    )
    return 0
