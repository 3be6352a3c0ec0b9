"""Does a model find the named object when asked in VQA form? "point to the X" on held-out scenes, home vs posed arm.

Session 6 question: plan-trained models' plans do not find the named object on an episode's first
frame (`plan_probe.py --start`), but does the model find it when asked as a question? This asks the
`point` questions about objects of an `rt2 vqa ... --home-pointing` folder, greedily decoded as
`Policy.answer` does, and splits them by image: arm at home (as every episode starts; the image's
gripper answer is the folder's most common one, since every scene is asked once at home) or posed.
Prints the median error in pixels and how many answers fall within 5 px.

    rt2 vqa runs/data/s6-heldout --scenes 100 --seed 2300000 --home-pointing
    .venv/bin/python experiments/home_point_probe.py --model runs/s6-policy/model --vqa runs/data/s6-heldout
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter

import numpy as np
import torch

from rt2_ros.data.vqa import load_vqa
from rt2_ros.eval.probe import point_px
from rt2_ros.policy import Policy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--vqa", required=True, help="an rt2 vqa folder made with --home-pointing")
    p.add_argument("--per-group", type=int, default=60)
    args = p.parse_args()
    torch.set_num_threads(1)
    policy = Policy.from_pretrained(args.model)
    rows = [r for r in load_vqa(args.vqa) if r["kind"] == "point"]

    def key(row) -> str:
        return hashlib.md5(row["image"].tobytes()).hexdigest()

    gripper = {key(r): r["answer"] for r in rows if "gripper" in r["question"]}
    home_answer = Counter(gripper.values()).most_common(1)[0][0]
    at_home = {image: answer == home_answer for image, answer in gripper.items()}
    errors: dict[bool, list[float]] = {True: [], False: []}
    for row in rows:
        home = at_home.get(key(row))
        if "gripper" in row["question"] or home is None or len(errors[home]) >= args.per_group:
            continue
        size = row["image"].size[1]
        said = point_px(policy.answer(np.asarray(row["image"].convert("RGB")), row["question"]), size)
        truth = point_px(row["answer"], size)
        error = np.linalg.norm(said - truth) if said is not None else np.inf
        errors[home].append(float(error))
    for home, found in errors.items():
        found = np.array(found)
        where = "home" if home else "posed"
        print(f"{where} objects: median {np.median(found):.1f} px, within 5 px {np.sum(found < 5)}/{len(found)}")


if __name__ == "__main__":
    main()
