"""Tiny PaliGemma-style VLAs built from configs (no hub): a locally trained tokenizer, random weights,
saved and loaded through the same public path as a real checkpoint. Also `rt2 tiny-model`.
"""

from __future__ import annotations

import argparse
import string
import tempfile
from pathlib import Path

import torch

from rt2_ros.actions import ActionTokenizer
from rt2_ros.vla.model import VLA
from rt2_ros.vla.ordinal_tokens import set_ordinal_embeddings
from rt2_ros.vla.position_code import set_position_code
from rt2_ros.vla.vocab import STRATEGIES

# Sizes: "tiny" for tests (32x32 images, 16 image tokens, <1M parameters); "30m" and "100m" for
# benchmarks, at PaliGemma's 224x224 and 256 image tokens.
SIZES: dict[str, dict[str, int]] = {
    "tiny": dict(image=32, patch=8, v_hidden=64, v_layers=2, v_heads=2, hidden=64, layers=2, heads=2, inter=128),
    "30m": dict(image=224, patch=14, v_hidden=384, v_layers=4, v_heads=6, hidden=512, layers=6, heads=8, inter=2048),
    # The sim default model (rt2 train --tiny): ~18M parameters at the sim cameras' 96 px; 64 image tokens
    # (patch 12) train about twice as fast as 144 (patch 8) on 2 cores.
    "20m-96": dict(image=96, patch=12, v_hidden=256, v_layers=4, v_heads=4, hidden=384, layers=6, heads=6, inter=1536),
    "100m": dict(image=224, patch=14, v_hidden=512, v_layers=6, v_heads=8, hidden=768, layers=10, heads=12, inter=3072),
}

_WORDS = (
    "What action should the robot take to pick up place put push move open close lift drop stack the a an "
    "red green blue yellow cube block ball cup bowl drawer door left right on in into onto of near far top "
    "Plan: Action: first then reach grasp release above below it is what color how many where yes no "
    "answer question there one two three table gripper arm"
)


def train_tokenizer(vocab_size: int = 1024, words: str = ""):
    """A SentencePiece-like BPE (Metaspace) whose vocabulary holds every number 0..255 as one token.

    `words`: more text to learn merges from (e.g. a task's instructions), so its words are short in tokens.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    numbers = " ".join(str(i) for i in range(256))
    corpus = [numbers] * 50 + [_WORDS] * 50 + [_WORDS.lower()] * 10 + ([words] * 50 if words else [])
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"],  # Gemma's ids 0..3
        initial_alphabet=list(string.printable),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def build_tiny_vla(
    folder: str | Path,
    *,
    size: str = "tiny",
    vocab: str = "added",
    seed: int = 0,
    actions: ActionTokenizer | None = None,
    words: str = "",
    **config_fields,
) -> Path:
    """Write a random-weight PaliGemma-style VLA folder and return its path. Deterministic for a seed."""
    from transformers import GemmaConfig, PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor
    from transformers.models.siglip.configuration_siglip import SiglipVisionConfig
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; choose one of {', '.join(SIZES)}")
    s = SIZES[size]
    n_image_tokens = (s["image"] // s["patch"]) ** 2
    image_processor = SiglipImageProcessorPil(
        size={"height": s["image"], "width": s["image"]}, image_seq_length=n_image_tokens
    )
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=train_tokenizer(words=words))
    # The processor adds <image> and PaliGemma's 1152 loc/seg tokens: size the vocabulary after it.
    vision = SiglipVisionConfig(
        hidden_size=s["v_hidden"],
        intermediate_size=4 * s["v_hidden"],
        num_hidden_layers=s["v_layers"],
        num_attention_heads=s["v_heads"],
        image_size=s["image"],
        patch_size=s["patch"],
        projection_dim=s["hidden"],
    )
    text = GemmaConfig(
        vocab_size=len(processor.tokenizer),
        hidden_size=s["hidden"],
        intermediate_size=s["inter"],
        num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"],
        num_key_value_heads=1,
        head_dim=s["hidden"] // s["heads"],
        pad_token_id=processor.tokenizer.pad_token_id,
        bos_token_id=processor.tokenizer.bos_token_id,
        eos_token_id=processor.tokenizer.eos_token_id,
    )
    # Untied output embeddings: with tied random ones the untrained model mostly repeats its last
    # input token, which would make decoding tests pass for the wrong reason.
    text.tie_word_embeddings = False
    config = PaliGemmaConfig(
        vision_config=vision,
        text_config=text,
        projection_dim=s["hidden"],
        image_token_id=processor.image_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = PaliGemmaForConditionalGeneration(config).eval()
    set_position_code(model.model.vision_tower)  # else the tower's tokens hardly say where they are (see module)
    folder = Path(folder)
    # A real checkpoint is a plain transformers folder; go through the same from_base path as one.
    with tempfile.TemporaryDirectory() as base:
        model.save_pretrained(base)
        processor.save_pretrained(base)
        corpus = [_WORDS, words] if vocab == "least_used" else None
        torch.manual_seed(seed)  # resize_token_embeddings draws the new rows
        vla = VLA.from_base(base, vocab=vocab, actions=actions, corpus=corpus, **config_fields)
    # Else <loc> and action tokens start unordered and pointing takes far longer to learn (see module).
    set_ordinal_embeddings(vla.model, [ids for ids in (vla.loc_ids, vla.action_ids) if ids is not None])
    vla.name = folder.name
    vla.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rt2 tiny-model", description="write a random-weight tiny VLA folder")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", choices=list(SIZES), default="tiny")
    parser.add_argument("--vocab", choices=list(STRATEGIES), default="added", help="how bins map to vocabulary ids")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_tiny_vla(args.folder, size=args.size, vocab=args.vocab, seed=args.seed)
    vla = VLA.from_pretrained(path)
    n_params = sum(p.numel() for p in vla.model.parameters())
    print(f"wrote {path}: {vla.model.config.model_type}, {n_params / 1e6:.1f}M parameters, vocab {args.vocab}")
    return 0
