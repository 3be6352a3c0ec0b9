"""VLA: a transformers image-text-to-text model plus its RT-2 config; loading, saving and prompt encoding.

Decoding lives in rt2_ros.vla.decoding and training inputs in rt2_ros.vla.training; this class
holds what they share: the model, the processor, the action ids and the prompts.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from rt2_ros.actions import N_TOKENS, ActionTokenizer
from rt2_ros.images import to_pil
from rt2_ros.plan_grammar import LOC_BINS
from rt2_ros.vla.config import VLAConfig
from rt2_ros.vla.vocab import action_token_ids, overwrites_text

# model_type -> how its prompt is laid out. PaliGemma is first-class (tested with tiny models);
# the others load through the same API where their processors can be built (they need torchvision).
SUPPORTED = {"paligemma": "prefix", "idefics3": "chat", "smolvlm": "chat", "qwen2_vl": "chat"}
DTYPES = ("float32", "bfloat16", "int8")

_ACTION_TAIL = re.compile(rf"(?s)(.*?)\s*((?:\d+\s+){{{N_TOKENS - 1}}}\d+)\s*")


def check_instruction(text: str, limit: int, what: str = "instruction") -> str:
    """The text stripped, or a ValueError naming the limit: empty or overly long text is a caller's bug."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what} has {len(text)} characters; the limit is {limit} (max_instruction_chars)")
    return text


class VLA:
    """A vision-language-action model: transformers model + processor + VLAConfig, in eval mode."""

    def __init__(self, model, processor, config: VLAConfig, name: str = "vla", dtype: str = "float32") -> None:
        model_type = model.config.model_type
        if model_type not in SUPPORTED:
            raise ValueError(f"unsupported architecture {model_type!r}; supported: {', '.join(SUPPORTED)}")
        self.model = model.eval()
        self.processor = processor
        self.config = config
        self.name = name
        self.dtype = dtype
        self.layout = SUPPORTED[model_type]
        vocab = model.get_input_embeddings().weight.shape[0]  # input side: an int8 lm_head has no .weight
        if max(config.action_token_ids) >= vocab:
            raise ValueError(f"action ids reach {max(config.action_token_ids)} but the model has {vocab} output rows")
        self.action_ids = torch.tensor(config.action_token_ids, dtype=torch.long)
        # Looked up once: the training loss and validation read them at every step.
        self.loc_ids = self._loc_ids()
        self.text_banned = self._text_banned(vocab)

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def actions(self) -> ActionTokenizer:
        return self.config.actions

    def _loc_ids(self) -> torch.Tensor | None:
        """Ids of PaliGemma's `<loc0000>`..`<loc1023>` in order (points in answers and plans); None without them."""
        ids = self.tokenizer.convert_tokens_to_ids([f"<loc{i:04d}>" for i in range(LOC_BINS)])
        if self.tokenizer.unk_token_id in ids or None in ids:
            return None
        return torch.tensor(ids, dtype=torch.long)

    # ---- loading and saving -------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | Path, *, dtype: str = "float32", compile: bool = False) -> VLA:
        """Load an rt2_ros model folder (transformers files + rt2_config.json).

        compile=True runs the vision tower through torch.compile: the image encoding has the same
        shapes on every call and dominates the prompt prefill, so it is where compiling helps; the
        language model's shapes change every decoding step and would recompile. The first call
        pays the compilation (tens of seconds).
        """
        config = VLAConfig.load(path)  # first: a folder without the action config fails before any weights load
        model, processor = _load_transformers(path)
        model = _to_dtype(model, dtype)
        if compile:
            inner = model.model if hasattr(model, "model") else model
            inner.vision_tower = torch.compile(inner.vision_tower, dynamic=False)
        return cls(model, processor, config, name=Path(str(path)).name, dtype=dtype)

    @classmethod
    def from_base(
        cls,
        path: str | Path,
        *,
        vocab: str = "added",
        actions: ActionTokenizer | None = None,
        corpus: Iterable[str] | None = None,
        **config_fields: Any,
    ) -> VLA:
        """Turn a plain image-text-to-text checkpoint (folder or hub id) into a VLA with action tokens."""
        model, processor = _load_transformers(path)
        ids = action_token_ids(processor.tokenizer, vocab, corpus=corpus)
        rows = model.get_input_embeddings().weight.shape[0]
        if len(processor.tokenizer) > rows:
            model.resize_token_embeddings(len(processor.tokenizer))
        if "parallel_query_id" not in config_fields:
            config_fields["parallel_query_id"] = processor.tokenizer.pad_token_id
        config = VLAConfig(
            action_token_ids=ids, vocab_strategy=vocab, actions=actions or ActionTokenizer(), **config_fields
        )
        return cls(model, processor, config, name=Path(str(path)).name)

    def save_pretrained(self, path: str | Path) -> None:
        if self.dtype == "int8":
            raise ValueError("a dynamically quantised (int8) model cannot be saved; save the float32 model")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)
        self.config.save(path)

    # ---- prompts and inputs -------------------------------------------------------------------

    def action_prompt(self, instruction: str, gripper_state: str | None = None) -> str:
        """RT-2's prompt; models trained with --gripper-state also read the gripper's recent command.

        gripper_state: rt2_ros.gripper_state.GripperState.text(), required by such models and
        ignored by the others (they never saw it).
        """
        instruction = check_instruction(instruction, self.config.max_instruction_chars)
        prompt = self.config.prompt.format(instruction=instruction)
        if not self.config.gripper_state:
            return prompt
        if gripper_state is None:
            raise ValueError(
                f"model {self.name!r} was trained with the gripper's state in its prompt (rt2_config.json "
                f"gripper_state); pass it (rt2_ros.gripper_state), as Policy.act does"
            )
        return f"{prompt} {gripper_state}"

    def vqa_prompt(self, question: str) -> str:
        question = check_instruction(question, self.config.max_instruction_chars, what="question")
        return self.config.vqa_prompt.format(question=question)

    def encode_prompt(self, image: Any, text: str) -> dict[str, torch.Tensor]:
        """Processor output for one image and prompt (batch of 1), ready for the model's forward."""
        image = to_pil(image)
        # numpy out, torch below: PaliGemma's processor builds (unused) labels with np.array() on its
        # output, which warns on every call for torch tensors.
        if self.layout == "prefix":
            # PaliGemma: image tokens, <bos>, prompt, "\n"; the processor adds all but the image marker.
            inputs = self.processor(images=image, text=self.processor.image_token + text, return_tensors="np")
        else:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True)
            inputs = self.processor(images=[image], text=prompt, return_tensors="np")
        inputs = {key: torch.from_numpy(value) for key, value in inputs.items() if key != "labels"}
        if "pixel_values" in inputs and self.dtype == "bfloat16":
            inputs["pixel_values"] = inputs["pixel_values"].to(torch.bfloat16)
        return inputs

    def text_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def answer_ids(self, target: str) -> tuple[list[int], int]:
        """Token ids of a training answer and how many of them are action tokens (at the end).

        A target that is RT-2 action text (`0 128 ...`), optionally after text ending in the action
        marker (`Plan: ... Action: 0 128 ...`), becomes text ids + the 8 action ids; anything else is
        free text (VQA) and ends with <eos>. Action text is parsed strictly, so a malformed action
        never turns into a silently wrong training label.
        """
        match = _ACTION_TAIL.fullmatch(target)
        if match and (not match.group(1) or match.group(1).rstrip().endswith(self.config.action_marker)):
            bins = self.actions.from_text(match.group(2))
            head = self.text_ids(match.group(1).strip()) if match.group(1).strip() else []
            return head + self.action_ids[bins].tolist(), N_TOKENS
        return self.text_ids(target) + [self.tokenizer.eos_token_id], 0

    def _text_banned(self, vocab: int) -> torch.Tensor:
        """Ids that free text (VQA, plans) must never produce: overwritten action ids, image and padding tokens."""
        banned = torch.zeros(vocab, dtype=torch.bool)
        banned[len(self.tokenizer) :] = True  # padding rows of the embedding matrix are no tokens
        if overwrites_text(self.config.vocab_strategy):
            banned[self.action_ids] = True
        for token_id in (self.tokenizer.pad_token_id, self.tokenizer.bos_token_id, self.model.config.image_token_id):
            if token_id is not None and token_id < vocab:
                banned[token_id] = True
        return banned


def _load_transformers(path: str | Path):
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

    model_type = AutoConfig.from_pretrained(path).model_type
    if model_type not in SUPPORTED:
        raise ValueError(f"unsupported architecture {model_type!r} in {path}; supported: {', '.join(SUPPORTED)}")
    try:
        processor = AutoProcessor.from_pretrained(path)
    except (ImportError, ValueError, OSError) as error:
        raise RuntimeError(f"cannot build the {model_type} processor for {path}: {error}") from error
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    return model, processor


def _to_dtype(model, dtype: str):
    if dtype == "float32":
        return model
    if dtype == "bfloat16":
        return model.to(torch.bfloat16)
    if dtype == "int8":
        # Dynamic int8: weights of every Linear quantised once, activations quantised per call (CPU only).
        # torch.ao warns that it moves to torchao; it still works here and torchao is not a dependency.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
            return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
