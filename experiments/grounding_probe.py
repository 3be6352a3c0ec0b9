"""Does a VLA's decoder learn to ground a question in its image? One VQA kind, a few minutes, one core.

Session 3 question: with a vision tower that sees (`rt2 pretrain-vision`: patch classes and
positions linearly readable), does the decoder on top learn "is the red cube on the left or the
right?" The tower is frozen; the decoder is the model's own (default) or freshly initialised
(--fresh). Held-out accuracy of the answer's first token is printed every 50 steps; chance for
`where` is 0.5. A decoder that grounds should leave chance within a few hundred steps.

    .venv/bin/python experiments/grounding_probe.py --model runs/s3-vision --vqa runs/data/s3-vqa-2000 \
        --kind where --steps 1000 --lr 3e-4 --fresh

Session 5 question: the same decoder learns `where` but not to point at a named object
(`rt2 vqa --kinds point`). `--kind point --objects-only` asks only about objects and also prints
the row error, in pixels, of the first answer token (`<locY>`), against always answering the
median row; a decoder that selects the named object's patch gets well under that.
`--grid N` asks instead for the object's grid cell as two digits, column first (`where` made finer;
N=2 is left/right on this data), and compares the column's accuracy with the most common column.

    .venv/bin/python experiments/grounding_probe.py --model runs/s3-vision --vqa runs/data/s5-point-a \
        --kind point --objects-only --train 4000 --steps 1500 --fresh

Session 6 answer: the fresh decoder's <loc> rows were random and unordered. `--ordinal` starts them
(and the action rows) as rt2_ros.vla.ordinal_tokens does for every new tiny model; `--loc-sigma` uses
the trainer's Gaussian location targets.

    .venv/bin/python experiments/grounding_probe.py --model runs/s3-vision --vqa runs/data/s5-point-a \
        --kind point --objects-only --train 8000 --steps 2000 --fresh --loc-sigma 16 --ordinal
"""

from __future__ import annotations

import argparse
import re
import time

import torch

from rt2_ros.data.vqa import load_vqa
from rt2_ros.train_loss import next_token_loss
from rt2_ros.vla.model import LOC_BINS, VLA
from rt2_ros.vla.ordinal_tokens import set_ordinal_embeddings
from rt2_ros.vla.training import build_example, collate

LOC = re.compile(r"<loc(\d{4})>")


def first_answer_tokens(model, examples, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, true) first answer token ids of held-out examples."""
    model.eval()
    said, truth = [], []
    with torch.no_grad():
        for start in range(0, len(examples), 50):
            batch = collate(examples[start : start + 50], pad_id)
            labels = batch.pop("labels")[:, 1:]
            logits = model(**batch).logits[:, :-1]
            first = (labels != -100).float().argmax(1)
            rows = torch.arange(len(labels))
            said.append(logits[rows, first].argmax(-1))
            truth.append(labels[rows, first])
    model.train()
    return torch.cat(said), torch.cat(truth)


def row_error_px(said: torch.Tensor, truth: torch.Tensor, loc_ids: torch.Tensor, size: int) -> tuple[float, float]:
    """Mean |row| error in pixels of <locY> answers (a non-loc answer counts as the median row), and blind."""
    index = {int(token): i for i, token in enumerate(loc_ids)}
    true_rows = torch.tensor([index[int(t)] for t in truth], dtype=torch.float32)
    median = true_rows.median()
    said_rows = torch.tensor([index.get(int(t), float(median)) for t in said], dtype=torch.float32)
    scale = size / len(loc_ids)
    return float((said_rows - true_rows).abs().mean() * scale), float((median - true_rows).abs().mean() * scale)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--vqa", required=True)
    p.add_argument("--kind", default="where")
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--test", type=int, default=200)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--fresh", action="store_true", help="re-initialise projector and decoder, keep the tower")
    p.add_argument("--grid", type=int, default=0, help="kind point: answer the column and row of a grid as digits")
    p.add_argument("--objects-only", action="store_true", help="kind point: leave out questions about the gripper")
    p.add_argument("--loc-sigma", type=float, default=0.0, help="Gaussian <loc> targets, std in bins (as rt2 train)")
    p.add_argument("--ordinal", action="store_true", help="with --fresh: ordered <loc>/action rows (ordinal_tokens)")
    args = p.parse_args()
    torch.set_num_threads(1)
    vla = VLA.from_pretrained(args.model)
    if args.fresh:
        torch.manual_seed(0)
        fresh = type(vla.model)(vla.model.config)
        fresh.model.vision_tower.load_state_dict(vla.model.model.vision_tower.state_dict())
        vla.model = fresh
        if args.ordinal:
            set_ordinal_embeddings(fresh, [vla.loc_ids, vla.action_ids])
    model = vla.model
    model.model.vision_tower.requires_grad_(False)
    data = load_vqa(args.vqa)
    keep = [
        i
        for i, (kind, question) in enumerate(zip(data["kind"], data["question"], strict=True))
        if kind == args.kind and not (args.objects_only and "gripper" in question)
    ]
    rows = [data[i] for i in keep[: args.train + args.test]]
    answers = [str(r["answer"]) for r in rows]
    if args.grid:  # <locY><locX> -> "C R": column then row of a grid x grid split, as digits (`where`, finer)
        answers = [" ".join(str(int(v) * args.grid // LOC_BINS) for v in LOC.findall(a)[::-1]) for a in answers]
    examples = [
        build_example(vla, r["image"], vla.vqa_prompt(r["question"]), a) for r, a in zip(rows, answers, strict=True)
    ]
    train, test = examples[: args.train], examples[args.train :]
    pad_id = vla.tokenizer.pad_token_id
    optimizer = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=args.lr, weight_decay=0.01)
    generator = torch.Generator().manual_seed(0)
    if args.grid:  # the blind baseline: always answering the held-out set's most common column
        columns = [a.split()[0] for a in answers[args.train :]]
        blind_column = max(columns.count(c) for c in set(columns)) / len(columns)
    start = time.time()
    for step in range(args.steps + 1):
        if step % 50 == 0:
            said, truth = first_answer_tokens(model, test, pad_id)
            report = f"step {step:5d}  held-out accuracy {(said == truth).float().mean():.3f}"
            if args.grid:
                report += f"  (most common column {blind_column:.3f})"
            elif args.kind == "point":
                error, blind = row_error_px(said, truth, vla.loc_ids, rows[0]["image"].size[1])
                report += f"  row error {error:.1f} px (blind {blind:.1f})"
            print(f"{report}  {time.time() - start:.0f} s", flush=True)
        picks = torch.randint(0, len(train), (args.batch_size,), generator=generator)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            batch = collate([train[int(i)] for i in picks], pad_id)
            labels = batch.pop("labels")
            loss = next_token_loss(model(**batch).logits, labels, vla.action_ids, 0.0, vla.loc_ids, args.loc_sigma)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


if __name__ == "__main__":
    main()
