"""`rt2 train RUN_DIR ...`: co-fine-tune a VLA on robot episodes + VQA; rerun the same command to resume.

PyTorch + accelerate (so `accelerate launch -m rt2_ros.cli train ...` runs it unchanged on many
processes), AdamW with linear warmup and cosine decay, bf16 autocast, gradient accumulation, LoRA
(peft) for big checkpoints and full fine-tuning for small ones. RUN_DIR holds everything:

  args.json      the options the run started with (a resume reuses them; --steps etc. may change)
  init/          the model as training started (architecture, tokenizer, action bounds from the data)
  checkpoints/   step-N.pt: model, optimizer, scheduler, RNG states, data position (exact resume)
  model/         the latest trained model folder (Policy.from_pretrained reads it); best/ by validation
  metrics.jsonl  loss, learning rate, samples/s, validation accuracies; tb/ the same for TensorBoard
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rt2_ros.autocast import bf16_autocast_pays
from rt2_ros.data.mixture import MixtureSchedule
from rt2_ros.plan_grammar import OFFSET_STYLES
from rt2_ros.train_data import MixtureBatches, bounds_from_data, load_robot_steps, robot_example
from rt2_ros.train_loss import next_token_loss, token_bins
from rt2_ros.train_state import latest_checkpoint, load_checkpoint, save_checkpoint
from rt2_ros.vla.model import LOC_BINS, VLA
from rt2_ros.vla.training import collate

# Options that may change when a run resumes; all others are the run's identity and come from args.json.
RESUMABLE = ("steps", "checkpoint_every", "eval_every", "log_every", "threads", "workers", "val_examples")
LORA_ABOVE = 300_000_000  # parameters: --finetune auto uses LoRA above this, full fine-tuning below
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rt2 train", description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path, help="run directory; an existing one with checkpoints is resumed")
    p.add_argument("--data", nargs="*", default=[], help="robot episode datasets (docs/datasets.md)")
    p.add_argument("--vqa", nargs="*", default=[], help="VQA datasets: rt2 vqa folders, HF names or paths")
    p.add_argument("--robot-fraction", type=float, default=0.5)
    start = p.add_mutually_exclusive_group()
    start.add_argument("--init", help="an rt2_ros model folder to continue from (keeps its action bounds)")
    start.add_argument("--base", help="a plain transformers checkpoint (folder or hub id): action vocab added")
    start.add_argument("--tiny", help="a tiny PaliGemma size from rt2_ros.vla.tiny.SIZES, random weights")
    p.add_argument("--vocab", default="added", help="action vocab strategy for --base / --tiny")
    p.add_argument("--bounds", choices=["percentile", "minmax", "keep"], default="percentile")
    p.add_argument("--camera", default="scene")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps in total")
    p.add_argument("--batch-size", type=int, default=32, help="examples per micro-batch per process")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="cosine decays to lr * this")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: on where the GPU or CPU does bf16 in hardware; rt2_ros.autocast)",
    )
    p.add_argument("--finetune", choices=["auto", "full", "lora"], default="auto")
    p.add_argument("--lora-rank", type=int, default=16)
    p.add_argument("--parallel", action="store_true", help="train robot examples for parallel decoding")
    p.add_argument(
        "--vision-from",
        help="a model folder whose vision tower replaces the new model's (e.g. rt2 pretrain-vision's output)",
    )
    p.add_argument(
        "--freeze-vision",
        action="store_true",
        help="keep the vision tower fixed (e.g. after rt2 pretrain-vision); the projector and decoder still train",
    )
    p.add_argument(
        "--action-sigma",
        type=float,
        default=0.0,
        help="Gaussian target over neighbouring action bins, std in bins (0: plain cross-entropy, as RT-2)",
    )
    p.add_argument(
        "--plans",
        action="store_true",
        help="robot examples write their point plan before the action (rt2 plans DATASET first; the model then "
        "always decodes with the plan)",
    )
    p.add_argument(
        "--plan-offsets",
        choices=list(OFFSET_STYLES),
        help="with --plans: the plan also writes offsets between its points, centred on <loc0512>: 'gripper' the "
        "object's from the gripper; 'below' adds the point below the tool at the object's height and the "
        "object's offset from it (rt2_ros.data.plan_points.with_offsets), the goal's from the object in both; "
        "'below-goal' puts the below point at the goal's height while the object is carried and measures the "
        "goal from it",
    )
    p.add_argument(
        "--gripper-state",
        action="store_true",
        help="the action prompt ends with the gripper's last command and the steps it has held, e.g. "
        "'gripper closed 3' (the policy tracks it from its own actions)",
    )
    p.add_argument(
        "--gripper-change-repeat",
        type=int,
        default=1,
        help="robot steps whose gripper command changes (the frame that closes or opens it) appear N times in "
        "the training data (1: once, like every step)",
    )
    p.add_argument(
        "--loc-sigma",
        type=float,
        default=0.0,
        help="Gaussian target over neighbouring <locNNNN> tokens (points), std in loc bins (1024 per image side)",
    )
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--val-examples", type=int, default=64)
    p.add_argument("--save-dtype", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.parallel and args.plans:
        p.error("--parallel decodes 8 action tokens in one pass; a plan is written token by token (choose one)")
    if args.plan_offsets and not args.plans:
        p.error("--plan-offsets adds to the plans of --plans; give both")
    return args


def sim_corpus() -> str:
    """Every word the sim's instructions and VQA use, for a tiny model's tokenizer."""
    from rt2_ros.data.vqa import NUMBERS, PHRASES
    from rt2_ros.sim.scene import COLOURS, SHAPES, SIZES, SYMBOLS
    from rt2_ros.sim.tasks import ATTRIBUTE_PHRASES, DIGIT_TILE_PHRASES, ICON_TILE_PHRASES, TEMPLATES
    from rt2_ros.sim.textures import TABLE_TEXTURES

    words = [*COLOURS, *SHAPES, *SIZES, *SYMBOLS, *TABLE_TEXTURES, *NUMBERS, "cubes cylinders tiles objects"]
    phrases = [*sum(TEMPLATES.values(), ()), *sum(PHRASES.values(), ()), *DIGIT_TILE_PHRASES, *ICON_TILE_PHRASES]
    phrases += sum(ATTRIBUTE_PHRASES.values(), ())
    return " ".join(words + phrases).replace("{", " ").replace("}", " ")


def build_start_model(args: argparse.Namespace, folder: Path) -> None:
    """Write the run's starting model folder: from --init, --base or --tiny, with bounds from the data."""
    from rt2_ros.vla.tiny import build_tiny_vla

    bounds = None if args.bounds == "keep" or not args.data else bounds_from_data(args.data, args.bounds)
    if args.tiny:
        build_tiny_vla(folder, size=args.tiny, vocab=args.vocab, seed=args.seed, words=sim_corpus())
        vla = VLA.from_pretrained(folder)
    elif args.base:
        vla = VLA.from_base(args.base, vocab=args.vocab)
    elif args.init:
        vla = VLA.from_pretrained(args.init)
        if args.bounds != "keep":
            print("--init keeps the model's action bounds (its action tokens were learned with them)")
            bounds = None
    else:
        raise SystemExit("rt2 train: a new run needs --init, --base or --tiny")
    if bounds is not None:
        vla.config.actions = bounds
    if args.vision_from:
        copy_vision_tower(VLA.from_pretrained(args.vision_from), vla)
    vla.config.parallel_trained = bool(args.parallel) or vla.config.parallel_trained
    vla.config.plan_trained = bool(args.plans)
    vla.config.plan_offsets = args.plan_offsets or ""
    vla.config.gripper_state = bool(args.gripper_state)
    vla.save_pretrained(folder)


def _choose_bf16(asked: bool | None) -> bool:
    pays = bf16_autocast_pays()
    if asked is None:
        print(f"bf16 autocast {'on' if pays else 'off: this hardware does not do bf16'} (--bf16 / --no-bf16)")
        return pays
    if asked and not pays:
        print("warning: --bf16 on hardware without bf16: training steps run many times slower than float32")
    return asked


def copy_vision_tower(source: VLA, target: VLA) -> None:
    """Put source's vision tower into target: a pretrained tower under a fresh decoder.

    Why: a decoder that has learned to answer without looking stays blind on a good tower, where a
    fresh one learns to ground (models/rt2-sim/README.md, session 3).
    """
    try:  # strict loading already refuses other keys or shapes; say it in the command's words
        target.model.model.vision_tower.load_state_dict(source.model.model.vision_tower.state_dict())
    except RuntimeError as error:
        raise SystemExit(f"rt2 train: --vision-from has a vision tower of another shape: {error}") from error


def _lr_lambda(warmup: int, total: int, min_ratio: float):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _use_lora(args: argparse.Namespace, model) -> bool:
    if args.finetune != "auto":
        return args.finetune == "lora"
    return sum(p.numel() for p in model.parameters()) > LORA_ABOVE


def _wrap_lora(model, rank: int):
    from peft import LoraConfig, get_peft_model

    # The action ids' embedding and output rows must train in full: they are new (or repurposed) tokens.
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=LORA_TARGETS, modules_to_save=["embed_tokens", "lm_head"]
    )
    return get_peft_model(model, config)


def _split_vqa(vqa_paths: list[str], val_every: int = 20):
    """All VQA sets concatenated; every val_every-th row held out for validation."""
    import datasets

    from rt2_ros.data.vqa import load_vqa

    if not vqa_paths:
        return None, None
    data = datasets.concatenate_datasets(
        [load_vqa(p).select_columns(["image", "question", "answer"]) for p in vqa_paths]
    )
    index = np.arange(len(data))
    return data.select(np.flatnonzero(index % val_every != val_every - 1)), data.select(
        index[val_every - 1 :: val_every]
    )


@torch.no_grad()
def validate(vla: VLA, robot_val, vqa_val, camera: str, n: int, parallel: bool) -> dict[str, float]:
    """Teacher-forced action-token accuracy (argmax among action ids) and exact-match greedy VQA accuracy."""
    from rt2_ros.vla.decoding import answer_text

    model = vla.model
    was_training = model.training
    model.eval()
    metrics: dict[str, float] = {}
    if robot_val is not None and len(robot_val):
        rows = [robot_val[int(i)] for i in np.linspace(0, len(robot_val) - 1, min(n, len(robot_val)))]
        correct = total = abs_err = 0
        pairs, point_errors = [], []
        for chunk in range(0, len(rows), 16):
            batch = collate(
                [robot_example(vla, r, camera, parallel=parallel) for r in rows[chunk : chunk + 16]],
                vla.tokenizer.pad_token_id,
            )
            labels = batch.pop("labels")
            logits = model(**batch).logits[:, :-1]
            target = labels[:, 1:]
            predicted = logits[..., vla.action_ids].argmax(-1)  # a bin, as constrained decoding picks
            target_bin = token_bins(target, vla.action_ids)
            is_action = target_bin >= 0  # 8 per example, in RT-2 order (a plan's tokens come before)
            correct += int((predicted[is_action] == target_bin[is_action]).sum())
            abs_err += int((predicted[is_action] - target_bin[is_action]).abs().sum())
            total += int(is_action.sum())
            pairs.append((predicted[is_action].view(-1, 8), target_bin[is_action].view(-1, 8)))
            if vla.loc_ids is not None:  # plan points, teacher-forced: how far off is each coordinate?
                target_loc = token_bins(target, vla.loc_ids)
                is_loc = target_loc >= 0
                predicted_loc = logits[..., vla.loc_ids].argmax(-1)
                point_errors.append((predicted_loc[is_loc] - target_loc[is_loc]).abs().float())
        metrics["val/action_token_acc"] = correct / max(total, 1)
        metrics["val/action_bin_mae"] = abs_err / max(total, 1)
        point_errors = torch.cat(point_errors) if point_errors else torch.zeros(0)
        if len(point_errors):
            pixels_per_bin = rows[0]["images"][camera].size[0] / LOC_BINS
            metrics["val/plan_point_err_px"] = float(point_errors.mean()) * pixels_per_bin
        # Does the motion follow the image? Correlation of predicted and expert dx, dy, dz bins over
        # the validation frames: about 0 for a model that moves the same whatever it sees.
        predicted_bins = torch.cat([p for p, _ in pairs]).float()
        target_bins = torch.cat([t for _, t in pairs]).float()
        correlations = [_correlation(predicted_bins[:, k], target_bins[:, k]) for k in (1, 2, 3)]
        metrics["val/motion_corr"] = float(np.mean(correlations))
    if vqa_val is not None and len(vqa_val):
        rows = [vqa_val[int(i)] for i in np.linspace(0, len(vqa_val) - 1, min(n, len(vqa_val)))]
        hits = 0
        for r in rows:
            answer = answer_text(vla, vla.encode_prompt(r["image"], vla.vqa_prompt(r["question"])))
            hits += answer.strip().lower() == str(r["answer"]).strip().lower()
        metrics["val/vqa_acc"] = hits / len(rows)
    model.train(was_training)
    return metrics


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return 0.0
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def save_model(vla: VLA, model, folder: Path, dtype: str, info: dict[str, Any]) -> None:
    """Write a model folder from the training model (LoRA merged into a copy; the run goes on)."""
    to_save = copy.deepcopy(model)
    if hasattr(to_save, "merge_and_unload"):
        to_save = to_save.merge_and_unload()
    if dtype == "bfloat16":
        to_save = to_save.to(torch.bfloat16)
    out = VLA(to_save, vla.processor, vla.config, name=folder.name)
    tmp = folder.with_name(folder.name + ".tmp")
    out.save_pretrained(tmp)
    (tmp / "training.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        folder.rename(old)
        tmp.rename(folder)
        import shutil

        shutil.rmtree(old)
    else:
        tmp.rename(folder)


def data_facts(paths: list[str], camera: str) -> dict[str, Any]:
    """What a model folder must say about its inputs (robot, camera, camera_size) once the data is gone."""
    from rt2_ros.data.dataset import read_episode_table, read_info

    if not paths:
        return {"camera": camera}
    info = read_info(paths[0])
    robots = sorted({e["robot"] for path in paths for e in read_episode_table(path)})
    return {"robot": robots[0] if len(robots) == 1 else robots, "camera": camera,
            "camera_size": info["image_shapes"][camera][:2]}  # fmt: skip


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop what a killed run logged after its last checkpoint: the resumed run logs those steps again."""
    if path.exists():
        lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in lines))


def main(argv: list[str] | None = None) -> int:
    import transformers
    from accelerate import Accelerator
    from torch.utils.tensorboard import SummaryWriter
    from tqdm import tqdm

    transformers.utils.logging.disable_progress_bar()  # one bar (ours) is enough in a log
    args = parse_args(argv)
    run: Path = args.run
    resume = latest_checkpoint(run)
    if resume is not None:
        stored = json.loads((run / "args.json").read_text())
        for key in RESUMABLE:
            stored[key] = getattr(args, key)
        args = argparse.Namespace(**{**vars(args), **stored, "run": run})
    if args.threads:
        torch.set_num_threads(args.threads)
    args.bf16 = _choose_bf16(args.bf16)
    accelerator = Accelerator(mixed_precision="bf16" if args.bf16 else "no")
    main_process = accelerator.is_main_process
    if resume is None and main_process:
        run.mkdir(parents=True, exist_ok=True)
        (run / "args.json").write_text(
            json.dumps({k: v for k, v in vars(args).items() if k != "run"}, indent=2, default=str)
        )
        build_start_model(args, run / "init")
    accelerator.wait_for_everyone()

    torch.manual_seed(args.seed)
    vla = VLA.from_pretrained(run / "init")
    model = vla.model
    if _use_lora(args, model):
        model = _wrap_lora(model, args.lora_rank)
    if args.freeze_vision:
        vla.model.model.vision_tower.requires_grad_(False)
    model.train()
    if args.loc_sigma > 0 and vla.loc_ids is None:
        raise SystemExit("rt2 train: --loc-sigma needs a tokenizer with PaliGemma's <loc0000>..<loc1023> tokens")
    robot = (
        load_robot_steps(
            args.data,
            args.camera,
            plans=args.plans,
            plan_offsets=args.plan_offsets or "",
            gripper_change_repeat=args.gripper_change_repeat,
        )
        if args.data
        else None
    )
    vqa_train, vqa_val = _split_vqa(args.vqa)
    schedule = MixtureSchedule(
        len(robot.train) if robot else 0, len(vqa_train) if vqa_train else 0, args.robot_fraction, seed=args.seed
    )
    batches = MixtureBatches(
        vla, robot.train if robot else None, vqa_train, schedule, args.batch_size, camera=args.camera,
        rank=accelerator.process_index, world=accelerator.num_processes, parallel=args.parallel,
    )  # fmt: skip
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(args.warmup, args.steps, args.min_lr_ratio))
    start_step, train_seconds, best = 0, 0.0, -1.0
    if resume is not None:
        state = load_checkpoint(resume)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        # A changed --steps reshapes the rest of the cosine; the steps already taken keep their rates.
        scheduler.lr_lambdas[0] = _lr_lambda(args.warmup, args.steps, args.min_lr_ratio)
        start_step, train_seconds, best = state["step"], state["train_seconds"], state.get("best", -1.0)
        from rt2_ros.train_state import set_rng_state

        set_rng_state(state["rng"])
        if main_process:
            print(f"resuming {run} at step {start_step} from {resume.name}")
            _truncate_metrics(run / "metrics.jsonl", start_step)
    model, optimizer = accelerator.prepare(model, optimizer)  # the scheduler is stepped by hand, once per step

    micro_per_step = args.grad_accum
    loader = torch.utils.data.DataLoader(
        batches,
        batch_size=None,
        sampler=range(start_step * micro_per_step, args.steps * micro_per_step),
        num_workers=args.workers,
    )
    facts = data_facts(args.data, args.camera)
    examples_per_step = args.batch_size * args.grad_accum * accelerator.num_processes
    tb = SummaryWriter(str(run / "tb")) if main_process else None
    log = (run / "metrics.jsonl").open("a") if main_process else None
    bar = tqdm(
        total=args.steps,
        initial=start_step,
        desc="train",
        disable=args.no_progress or not main_process,
        mininterval=0.1 if sys.stderr.isatty() else 60,  # a log file gets a line a minute
    )
    window: list[float] = []
    tick = time.perf_counter()
    batches_iter = iter(loader)
    unwrapped = accelerator.unwrap_model(model)
    vla.model = unwrapped.get_base_model() if hasattr(unwrapped, "get_base_model") else unwrapped

    def record(step: int, values: dict[str, float]) -> None:
        if not main_process:
            return
        for key, value in values.items():
            tb.add_scalar(key, value, step)
        log.write(json.dumps({"step": step, **values}) + "\n")
        log.flush()

    for step in range(start_step, args.steps):
        step_loss = 0.0
        for micro in range(micro_per_step):
            batch = next(batches_iter)
            sync = contextlib.nullcontext() if micro == micro_per_step - 1 else accelerator.no_sync(model)
            with sync:
                with accelerator.autocast():
                    labels = batch.pop("labels")
                    logits = model(**batch).logits
                loss = (
                    next_token_loss(logits, labels, vla.action_ids, args.action_sigma, vla.loc_ids, args.loc_sigma)
                    / micro_per_step
                )
                accelerator.backward(loss)
            step_loss += float(loss.detach())
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(step_loss)
        bar.update(1)
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            now = time.perf_counter()
            train_seconds += now - tick
            rate = len(window) * examples_per_step / max(now - tick, 1e-9)
            values = {
                "train/loss": float(np.mean(window)),
                "train/lr": scheduler.get_last_lr()[0],
                "train/samples_per_s": rate,
            }
            record(done, {**values, "train/hours": train_seconds / 3600})
            bar.set_postfix(loss=f"{values['train/loss']:.3f}", sps=f"{rate:.1f}")
            window, tick = [], now
        evaluate = done % args.eval_every == 0 or done == args.steps
        if evaluate and main_process:
            metrics = validate(
                vla, robot.val if robot else None, vqa_val, args.camera, args.val_examples, args.parallel
            )
            record(done, metrics)
            bar.write(f"step {done}: " + ", ".join(f"{k.split('/')[1]} {v:.3f}" for k, v in metrics.items()))
            info = {"step": done, "train_hours": train_seconds / 3600, **facts, "args": vars(args), **metrics}
            score = metrics.get("val/action_token_acc", metrics.get("val/vqa_acc", 0.0))
            save_model(vla, unwrapped, run / "model", args.save_dtype, info)
            if score > best:
                best = score
                save_model(vla, unwrapped, run / "best", args.save_dtype, info)
            tick = time.perf_counter()  # validation time is not training time
        if (done % args.checkpoint_every == 0 or done == args.steps) and main_process:
            extra = {"train_seconds": train_seconds, "best": best, "micro_batches": done * micro_per_step}
            save_checkpoint(run, done, unwrapped, optimizer, scheduler, extra)
            tick = time.perf_counter()
        accelerator.wait_for_everyone() if accelerator.num_processes > 1 else None
    bar.close()
    if main_process:
        log.close()
        tb.close()
        print(f"done: {args.steps} steps, {train_seconds / 3600:.2f} h of training; model in {run / 'model'}")
    return 0
