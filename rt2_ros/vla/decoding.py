"""Decoding a VLA's answer: constrained action tokens (KV-cached loop, `generate`, or one parallel pass),
chain-of-thought (`Plan: ... Action: <8 tokens>`) and free-text VQA.

The action constraint picks among the action ids only (terminate among bins 0 and 1), so an
invalid action id cannot come out: the choice is an index into the 256 action ids, i.e. a bin.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from rt2_ros.actions import N_TOKENS
from rt2_ros.plan_grammar import offsets_text, point_key
from rt2_ros.vla.model import VLA
from rt2_ros.vla.training import append_queries

DECODINGS = ("kv", "generate", "parallel")


@dataclass
class Decoded:
    bins: np.ndarray  # (8,) int64 in RT-2 order
    plan: str = ""
    # (8,) float64: each position's expected bin under the model's distribution over the bins allowed there
    # (the KV-cached loop only; None from generate and parallel)
    expected: np.ndarray | None = None


class KVStream:
    """One prompt being decoded with a KV cache: the cache, and the logits for the next position.

    Public for the experiments that feed text of their own (a true or edited plan) and read the
    logits that follow.
    """

    def __init__(self, model, inputs: dict[str, torch.Tensor]) -> None:
        self.model = model
        out = model(**inputs, use_cache=True, logits_to_keep=1)
        self.cache, self.logits = out.cache, out.logits[0, -1]

    def feed(self, ids: list[int]) -> None:
        # No pixel_values and no token_type_ids after the prefill: new tokens are causal suffix tokens,
        # exactly as generate() treats them, and the image already sits in the cache.
        out = self.model(input_ids=torch.tensor([ids]), cache=self.cache, use_cache=True, logits_to_keep=1)
        self.cache, self.logits = out.cache, out.logits[0, -1]

    def fork(self) -> KVStream:
        """A stream that goes on from here on its own: its own copy of the cache, the same model."""
        twin = KVStream.__new__(KVStream)
        twin.model, twin.cache, twin.logits = self.model, copy.deepcopy(self.cache), self.logits
        return twin


def allowed_bins(position: int) -> slice:
    """Bins the constraint allows at an action position: terminate is 0 or 1, the rest 0..255."""
    return slice(0, 2) if position == 0 else slice(None)


def _choose(scores: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(torch.argmax(scores))
    probs = torch.softmax(scores.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


@torch.inference_mode()
def decode_action(
    vla: VLA,
    inputs: dict[str, torch.Tensor],
    *,
    decoding: str = "kv",
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> Decoded:
    """The 8 action bins for a prompt, by the KV-cached loop, `model.generate`, or one parallel pass."""
    if decoding == "kv":
        return _action_tokens(vla, KVStream(vla.model, inputs), temperature, generator)
    if temperature > 0 and decoding != "kv":
        raise ValueError("sampling (temperature > 0) is done by decoding='kv'; generate and parallel are greedy")
    if decoding == "generate":
        return Decoded(_generate(vla, inputs))
    if decoding == "parallel":
        return Decoded(_parallel(vla, inputs))
    raise ValueError(f"unknown decoding {decoding!r}; choose one of {', '.join(DECODINGS)}")


def _action_tokens(vla: VLA, stream: KVStream, temperature: float, generator: torch.Generator | None) -> Decoded:
    """The 8 chosen bins, each fed before the next is chosen, and each position's expected bin."""
    bins, expected = [], []
    for position in range(N_TOKENS):
        ids = vla.action_ids[allowed_bins(position)]
        scores = stream.logits[ids]
        bins.append(_choose(scores, temperature, generator))
        probs = torch.softmax(scores.float(), dim=-1)
        expected.append(float((probs * torch.arange(len(ids))).sum()))
        if position < N_TOKENS - 1:  # the last token needs no forward pass: nothing follows it
            stream.feed([int(ids[bins[-1]])])
    return Decoded(np.array(bins, dtype=np.int64), expected=np.array(expected))


class ActionConstraint(LogitsProcessor):
    """For `generate`: at the k-th new token only the action ids allowed at position k keep their scores."""

    def __init__(self, vla: VLA, prompt_length: int) -> None:
        self.masks = []
        for position in range(N_TOKENS):
            mask = torch.ones(len(vla.text_banned), dtype=torch.bool)
            mask[vla.action_ids[allowed_bins(position)]] = False
            self.masks.append(mask)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        position = input_ids.shape[1] - self.prompt_length
        return scores.masked_fill(self.masks[position][: scores.shape[-1]], float("-inf"))


def _generate(vla: VLA, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """The reference path: transformers' own greedy generate with the same constraint."""
    prompt_length = inputs["input_ids"].shape[1]
    out = vla.model.generate(
        **inputs,
        max_new_tokens=N_TOKENS,
        min_new_tokens=N_TOKENS,
        do_sample=False,
        logits_processor=LogitsProcessorList([ActionConstraint(vla, prompt_length)]),
        pad_token_id=vla.tokenizer.pad_token_id,
    )
    return action_bins(vla, out[0, prompt_length:].tolist())


def action_bins(vla: VLA, token_ids: list[int]) -> np.ndarray:
    """Vocabulary ids -> bins; an id that is not an action id raises rather than being guessed."""
    lookup = {int(t): b for b, t in enumerate(vla.action_ids)}
    missing = [t for t in token_ids if t not in lookup]
    if missing or len(token_ids) != N_TOKENS:
        raise ValueError(f"expected {N_TOKENS} action ids, got {token_ids} (not action ids: {missing})")
    return vla.actions.validate(np.array([lookup[t] for t in token_ids], dtype=np.int64))


def _parallel(vla: VLA, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    example = append_queries(vla, inputs)
    batch = {key: value.unsqueeze(0) for key, value in example.items()}
    # Logits at the last prompt token and the first 7 queries predict the 8 action tokens.
    logits = vla.model(**batch, use_cache=False, logits_to_keep=N_TOKENS + 1).logits[0, :N_TOKENS]
    bins = [int(torch.argmax(logits[k, vla.action_ids[allowed_bins(k)]])) for k in range(N_TOKENS)]
    return np.array(bins, dtype=np.int64)


@torch.inference_mode()
def decode_with_plan(
    vla: VLA,
    inputs: dict[str, torch.Tensor],
    *,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
    previous: dict[str, np.ndarray] | None = None,
    locate: Callable[[str], np.ndarray | None] | None = None,
    given: dict[str, np.ndarray] | None = None,
    locate_goal: Callable[[], np.ndarray | None] | None = None,
) -> Decoded:
    """Chain of thought: `Plan:` is given, the plan is free text up to `Action:`, then 8 constrained action tokens.

    previous: the last step's plan points (plan_grammar.plan_points); with the model's
    plan_track_window set, its object and goal points are written near them (_PointTracker).
    locate(name): the same model's answer to "point to the <name>." as (row, column) loc bins; when
    given, the object's point is written within plan_locate_window of it (_PointTracker).
    given: plan points not left to the model, {key: (row, column) loc bins}: the arm's gripper and
    below points (rt2_ros.tool_points.ArmView) and points held by plan_hold (Policy._given_points);
    the plan writes exactly these where it writes those points.
    locate_goal(): the same model's point for the goal the instruction names (plan_locate_goal),
    asked only if the plan writes a goal; its goal point is then written within plan_locate_window of it.
    With plan_offsets_by_code, the plan stops after its `below` point and the offsets are computed.
    """
    config = vla.config
    stream = KVStream(vla.model, inputs)
    stream.feed(vla.text_ids(config.plan_prefix))

    def stop(text: str) -> bool:
        return config.action_marker in text or bool(config.plan_offsets_by_code and _ENDS_WITH_BELOW.search(text))

    tracking = bool(config.plan_track_window and previous)
    tracker = (
        _PointTracker(vla, previous if tracking else {}, locate, given, locate_goal)
        if tracking or locate or given or locate_goal
        else None
    )
    text = _free_text(vla, stream, config.max_plan_tokens, stop=stop, refine=tracker)
    plan = text.split(config.action_marker)[0].strip()
    if config.plan_offsets_by_code and config.action_marker not in text and _ENDS_WITH_BELOW.search(plan):
        offsets = offsets_text(plan, config.plan_offsets)
        stream.feed(vla.text_ids(f" {offsets}"))
        plan = f"{plan} {offsets}"
    if config.action_marker not in text:  # the model did not write the marker: write it for it
        stream.feed(vla.text_ids(config.action_marker))
    return replace(_action_tokens(vla, stream, temperature, generator), plan=plan)


@torch.inference_mode()
def decode_action_after_plan(
    vla: VLA,
    inputs: dict[str, torch.Tensor],
    plan: str,
    *,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> Decoded:
    """The action a plan-trained model decodes after `plan`, fed teacher forced in place of its own."""
    stream = KVStream(vla.model, inputs)
    stream.feed(vla.text_ids(f"{vla.config.plan_prefix} {plan} {vla.config.action_marker}"))
    return replace(_action_tokens(vla, stream, temperature, generator), plan=plan)


TRACKED_POINTS = ("object", "goal")  # they move only when carried or pushed: a few loc bins per step
_ENDS_WITH_BELOW = re.compile(r"below<loc\d{4}><loc\d{4}>$")
_ENDS_WITH_POINT = re.compile(r"(\w+)<loc\d{4}><loc\d{4}>$")
_SEGMENT = re.compile(r"<loc(\d{4})>|[^<]+")
_HAS_GOAL = re.compile(r"\bto<loc\d{4}><loc\d{4}>")


class _PointTracker:
    """A location token of the object or goal point is chosen among those within a window of an anchor.

    plan_track_window: the anchor is the same coordinate at the previous step. Why: a plan remade
    from scratch at every step put its object point on the named object at some steps and on
    another at the next (session 8), and the arm wandered between them.

    locate (plan_locate): the object's anchor is instead where the model's own pointing answer puts
    the object the plan has just named, within plan_locate_window. Why: the same weights point at a
    named object far better as a question than inside a plan (session 12: 2.7 px median against
    7.5 px on unseen first frames), and a first point a few pixels off was then held there by the
    tracking window while the arm closed beside the object.

    given: points written exactly as given (the arm's gripper and below points, points held by plan_hold).

    locate_goal (plan_locate_goal): the goal's anchor is where the model points to the goal the
    instruction names. Why: the plan's own goal for a tile was 4-18 cm from it in 7 of 8 first
    frames (session 19), the plan never having to name the tile it points at.

    Nothing in transformers constrains a token by what an earlier call decoded, hence this hook.
    """

    def __init__(
        self,
        vla: VLA,
        previous: dict[str, np.ndarray],
        locate: Callable[[str], np.ndarray | None] | None = None,
        given: dict[str, np.ndarray] | None = None,
        locate_goal: Callable[[], np.ndarray | None] | None = None,
    ) -> None:
        self.loc_ids, self.previous, self.given = vla.loc_ids, previous, given or {}
        self.track_window, self.locate_window = vla.config.plan_track_window, vla.config.plan_locate_window
        self.locate, self.locate_goal = locate, locate_goal
        self.located: dict[str, np.ndarray | None] = {}  # object name -> its point, asked once per plan
        self.located_goal: np.ndarray | None = None  # the instruction's goal, asked once per plan
        self.is_loc = set(vla.loc_ids.tolist()) if vla.loc_ids is not None else set()
        self.eos = vla.tokenizer.eos_token_id

    def __call__(self, text: str, token: int, logits: torch.Tensor) -> int:
        where = _writing(text)
        if token not in self.is_loc:
            if where is None or (where[2] != 1 and token != self.eos):
                return token
            # A point's column always follows its row: a model that wrote a word there (it did after a located
            # goal row it had not expected) would leave a point that plan_points cannot read. And a named point
            # is never left without its row: a model that ended its plan on an object's name (it did on a
            # colour the robot data never showed, session 27) would leave the located point nowhere to go.
            token = int(self.loc_ids[int(torch.argmax(logits[self.loc_ids]))])
        if where is None:
            if _ENDS_WITH_POINT.search(text):  # a point is two tokens: no third after it
                return int(torch.argmax(logits.index_fill(0, self.loc_ids, float("-inf"))))
            return token
        key, label, coordinate = where
        if key == "below" and "below_goal" in self.given and _HAS_GOAL.search(text):
            key = "below_goal"  # offsets "below-goal": a carried object's below point is at its goal's height
        if key in self.given:
            return int(self.loc_ids[int(self.given[key][coordinate])])
        anchor, window = None, self.track_window
        if key == "object" and self.locate is not None:
            if label not in self.located:
                self.located[label] = self.locate(label)
            if self.located[label] is not None:
                anchor, window = int(self.located[label][coordinate]), self.locate_window
        if key == "goal" and self.locate_goal is not None:
            if self.located_goal is None:
                self.located_goal = self.locate_goal()
            if self.located_goal is not None:
                anchor, window = int(self.located_goal[coordinate]), self.locate_window
        if anchor is None and key in TRACKED_POINTS and key in self.previous and self.track_window:
            anchor = int(self.previous[key][coordinate])
        if anchor is None:
            return token
        low, high = max(0, anchor - window), min(len(self.loc_ids), anchor + window + 1)
        return int(self.loc_ids[low + int(torch.argmax(logits[self.loc_ids[low:high]]))])


def _writing(text: str) -> tuple[str, str, int] | None:
    """(point key, its label, 0 for row or 1 for column) of the location token that follows `text`, if any.

    Read from the words and location tokens written so far, not from a count, so a malformed plan
    (a word after a lone row) never lends one point's anchor to another.
    """
    labels, label, since = 0, "", 0
    for segment in _SEGMENT.finditer(text):
        if segment.group(1) is not None:
            since += 1
        elif segment.group(0).strip():
            labels, label, since = labels + 1, segment.group(0).strip(), 0
    if labels == 0 or since > 1:  # no word yet, or a third location token in a row: no point of the plan
        return None
    return point_key(labels - 1, label), label, since


@torch.inference_mode()
def point_answer(vla: VLA, inputs: dict[str, torch.Tensor]) -> np.ndarray | None:
    """A pointing question's answer as (row, column) loc bins: two tokens chosen among the location tokens only.

    None for a model without location tokens. Constrained like the action tokens, so the answer is
    always a point, even from a model that would have written something else first.
    """
    if vla.loc_ids is None:
        return None
    stream = KVStream(vla.model, inputs)
    row = int(torch.argmax(stream.logits[vla.loc_ids]))
    stream.feed([int(vla.loc_ids[row])])
    column = int(torch.argmax(stream.logits[vla.loc_ids]))
    return np.array([row, column])


@torch.inference_mode()
def ranked_points(vla: VLA, inputs: dict[str, torch.Tensor], rows: int, columns: int, merge: int) -> list[np.ndarray]:
    """A pointing question's likeliest answers, best first: up to rows x columns (row, column) loc-bin points.

    The `rows` likeliest rows at least `merge` bins apart, and for each the `columns` likeliest columns after
    it, ranked by the probability of both tokens. Why not only the greedy point: where several places fit
    the question (three tiles, and the one named unreadable at this scale) the greedy point is one of them,
    and the others are the next answers (session 26: the named tile was among the first 12 for 119 of 120).
    """
    if vla.loc_ids is None:
        return []
    stream = KVStream(vla.model, inputs)
    row_scores = torch.log_softmax(stream.logits[vla.loc_ids].float(), dim=-1)
    ranked = []
    for row in _peaks(row_scores, rows, merge):
        branch = stream.fork()
        branch.feed([int(vla.loc_ids[row])])
        column_scores = torch.log_softmax(branch.logits[vla.loc_ids].float(), dim=-1)
        for column in _peaks(column_scores, columns, merge):
            ranked.append((float(row_scores[row] + column_scores[column]), row, column))
    ranked.sort(key=lambda scored: -scored[0])
    return [np.array([row, column]) for _, row, column in ranked]


def _peaks(scores: torch.Tensor, n: int, merge: int) -> list[int]:
    """The n best-scored bins, each at least `merge` bins from a better one."""
    chosen: list[int] = []
    for index in torch.argsort(scores, descending=True).tolist():
        if all(abs(index - other) >= merge for other in chosen):
            chosen.append(index)
            if len(chosen) == n:
                break
    return chosen


@torch.inference_mode()
def answer_text(vla: VLA, inputs: dict[str, torch.Tensor]) -> str:
    """VQA: a greedy free-text answer, ending at <eos> or max_answer_tokens."""
    return _free_text(vla, KVStream(vla.model, inputs), vla.config.max_answer_tokens).strip()


def _free_text(
    vla: VLA,
    stream: KVStream,
    max_tokens: int,
    stop: Callable[[str], bool] | None = None,
    refine: Callable[[str, int, torch.Tensor], int] | None = None,
) -> str:
    """Greedy text without action or image ids. Each chosen token is fed, so the stream is ready for what follows.

    stop(text): end once the text written so far says so. refine(text so far, greedy token, logits):
    the token to write instead.
    """
    ids: list[int] = []
    text = ""
    eos = vla.tokenizer.eos_token_id
    banned = vla.text_banned
    for _ in range(max_tokens):
        logits = stream.logits[: len(banned)].masked_fill(banned, float("-inf"))
        token = int(torch.argmax(logits))
        if refine is not None:  # before the end is taken: refine may write on where the model would stop
            token = refine(text, token, logits)
        if token == eos:
            break
        ids.append(token)
        stream.feed([token])
        text = vla.tokenizer.decode(ids, skip_special_tokens=True)
        if stop is not None and stop(text):
            break
    return text
