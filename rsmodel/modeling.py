"""A ``CLIPModel`` and its ``CLIPProcessor`` from a Hub id, a local folder or a (tiny) config.

- ``name_or_path`` (+ ``revision``): ``CLIPModel.from_pretrained`` and ``CLIPProcessor.from_pretrained`` of the
  same source. Real runs start from OpenAI's CLIP weights (``openai/clip-vit-base-patch32``,
  ``openai/clip-vit-large-patch14``) or from a folder written by ``rsmodel convert``. The commit the Hub resolved
  is recorded (``ModelSource.commit``).
- ``config``: a fresh ``CLIPModel(CLIPConfig(**config))``, its weights initialised under ``torch.manual_seed(seed)``;
  its processor is CLIP's preprocessing at the config's image size (bicubic shortest-edge resize, centre crop,
  OpenAI mean and std) with the tokenizer named by ``tokenizer``: ``"openclip"`` (the real CLIP BPE tokenizer,
  built from CLIP's BPE vocabulary, the file open_clip ships, which rsmodel ships too: see
  :func:`rsmodel.convert.load_tokenizer`), a tokenizer folder, or a ``bpe_simple_vocab_16e6.txt.gz``. The text
  config's special token ids are set from the tokenizer (so that the text tower pools at the first end-of-text
  token), and its vocabulary and positions must hold the tokenizer's ids and ``max_text_length`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from rsmodel.errors import CheckpointError, TrainRecipeError
from rsmodel.train_recipe import TOKENIZER_OPENCLIP, ModelSpec


@dataclass(frozen=True)
class ModelSource:
    """Where a model came from, as recorded in ``rsmodel_train.json``."""

    name_or_path: str | None = None
    revision: str | None = None
    commit: str | None = None  # the Hub commit of name_or_path, when it came from the Hub
    config: Mapping[str, Any] | None = None
    tokenizer: str | None = None


def load_model(spec: ModelSpec, *, seed: int, max_text_length: int = 77):
    """``(model, processor, source)`` for ``spec``: a ``CLIPModel`` in float32 training mode, its ``CLIPProcessor``
    and a :class:`ModelSource`. Errors name the source and what went wrong."""
    if spec.config is not None:
        model, processor = model_from_config(spec.config, tokenizer=spec.tokenizer, seed=seed,
                                             max_text_length=max_text_length)
        source = ModelSource(config=dict(spec.config), tokenizer=spec.tokenizer)
    else:
        model, processor = _pretrained(spec.name_or_path, spec.revision)
        commit = None if Path(spec.name_or_path).exists() else _hub_commit(spec.name_or_path, spec.revision)
        source = ModelSource(name_or_path=spec.name_or_path, revision=spec.revision, commit=commit)
        _check_text_positions(model.config, max_text_length, spec.name_or_path)
    model.train()
    return model, processor, source


def model_from_config(config: Mapping[str, Any], *, tokenizer: str = TOKENIZER_OPENCLIP, seed: int = 0,
                      max_text_length: int = 77):
    """A fresh ``CLIPModel`` (weights from ``torch.manual_seed(seed)``) and a ``CLIPProcessor`` for it."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor

    from rsmodel.convert import load_tokenizer

    tok = load_tokenizer(None if tokenizer == TOKENIZER_OPENCLIP else tokenizer, max_text_length)
    config = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.items()}
    text = config.setdefault("text_config", {})
    for name, token in (("bos_token_id", tok.bos_token), ("eos_token_id", tok.eos_token),
                        ("pad_token_id", tok.pad_token)):
        text.setdefault(name, tok.convert_tokens_to_ids(token))
    try:
        clip_config = CLIPConfig(**config)
    except (TypeError, ValueError) as error:
        raise TrainRecipeError(f"model.config is not a valid CLIPConfig: {error}") from None
    if clip_config.text_config.vocab_size < len(tok):
        raise TrainRecipeError(f"model.config.text_config.vocab_size is {clip_config.text_config.vocab_size}, "
                               f"smaller than the tokenizer's {len(tok)} tokens")
    _check_text_positions(clip_config, max_text_length, "model.config")
    torch.manual_seed(seed)
    model = CLIPModel(clip_config)
    processor = CLIPProcessor(image_processor=clip_image_processor(clip_config.vision_config.image_size),
                              tokenizer=tok)
    return model, processor


def clip_image_processor(image_size: int):
    """CLIP's evaluation preprocessing at ``image_size`` (what a saved model's processor applies at inference)."""
    from transformers import CLIPImageProcessor

    from rsmodel.convert import OPENAI_MEAN, OPENAI_STD

    return CLIPImageProcessor(do_resize=True, size={"shortest_edge": image_size}, resample=3, do_center_crop=True,
                              crop_size={"height": image_size, "width": image_size}, do_rescale=True,
                              rescale_factor=1 / 255, do_normalize=True, image_mean=list(OPENAI_MEAN),
                              image_std=list(OPENAI_STD), do_convert_rgb=True)


# Weight files that are Python pickles: loading one can run code, so rsmodel reads weights only from safetensors.
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth")


def _refuse_pickled_weights(folder: Path) -> None:
    """A local model folder without safetensors weights is refused, naming its pickled weight files."""
    if any(folder.glob("*.safetensors")):
        return
    pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in folder.glob(pattern)
                     if p.is_file() and p.name not in NOT_WEIGHTS and not p.name.startswith("rng_state"))
    found = f"its weights are only in pickle file(s) {', '.join(pickles)}" if pickles else "it holds no weights"
    raise CheckpointError(folder, f"model.name_or_path: no safetensors weights (model.safetensors); {found}. "
                          "rsmodel reads weights only from safetensors, since loading a pickle can run code. "
                          "Convert them once, in an environment you trust with that file: "
                          f"CLIPModel.from_pretrained('{folder}').save_pretrained('{folder}', "
                          "safe_serialization=True) for a transformers checkpoint, or rsmodel convert openclip "
                          "CHECKPOINT OUT --arch ARCH for an open_clip one")


def _pretrained(name_or_path: str, revision: str | None):
    from transformers import CLIPModel, CLIPProcessor

    if Path(name_or_path).is_dir():
        _refuse_pickled_weights(Path(name_or_path))
    kwargs = {"revision": revision} if revision else {}
    try:
        # use_safetensors: a Hub repo whose weights are only pickles is refused too, not unpickled
        model = CLIPModel.from_pretrained(name_or_path, dtype="float32", use_safetensors=True, **kwargs)
        processor = CLIPProcessor.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(name_or_path, f"cannot load a CLIPModel with its CLIPProcessor (model.name_or_path"
                              f"{', revision ' + revision if revision else ''}): {first}") from None
    return model, processor


def _hub_commit(repo_id: str, revision: str | None) -> str | None:
    try:
        from huggingface_hub import HfApi

        return HfApi().model_info(repo_id, revision=revision).sha
    except Exception:  # noqa: BLE001 - the model loaded; a missing commit only weakens the record
        return None


def _check_text_positions(config, max_text_length: int, where: str) -> None:
    positions = config.text_config.max_position_embeddings
    if positions < max_text_length:
        raise TrainRecipeError(f"{where}: the text tower has {positions} positions, fewer than "
                               f"data.max_text_length {max_text_length}")
