"""Checkpoint conversion between open_clip and transformers ``CLIPModel`` layouts.

The official remote-sensing CLIP releases (RemoteCLIP, GeoRSCLIP) are open_clip state dicts; this module turns one
into a ``CLIPModel`` folder (weights as safetensors, config, ``CLIPProcessor``) and turns such a folder back into an
open_clip state dict plus ``open_clip_config.json``. Both directions are exact: no tensor is recomputed, only
renamed, split, concatenated or transposed, so a round trip is equal bit for bit.

Key mapping (open_clip -> CLIPModel). ``T`` is the text tower prefix ``transformer.resblocks.N.`` ->
``text_model.encoder.layers.N.``; ``V`` is ``visual.transformer.resblocks.N.`` ->
``vision_model.encoder.layers.N.``; every block maps the same way in both towers::

    positional_embedding            text_model.embeddings.position_embedding.weight
    token_embedding.weight          text_model.embeddings.token_embedding.weight
    ln_final.{weight,bias}          text_model.final_layer_norm.{weight,bias}
    text_projection  (width, embed) text_projection.weight  (embed, width)   transposed
    logit_scale                     logit_scale
    visual.class_embedding          vision_model.embeddings.class_embedding
    visual.positional_embedding     vision_model.embeddings.position_embedding.weight
    visual.conv1.weight             vision_model.embeddings.patch_embedding.weight
    visual.ln_pre.{weight,bias}     vision_model.pre_layrnorm.{weight,bias}     (sic: transformers' spelling)
    visual.ln_post.{weight,bias}    vision_model.post_layernorm.{weight,bias}
    visual.proj      (width, embed) visual_projection.weight (embed, width)   transposed
    block.attn.in_proj_weight (3w, w) / in_proj_bias (3w)
                                    block.self_attn.{q,k,v}_proj.{weight,bias}  split in three along dim 0
    block.attn.out_proj.*           block.self_attn.out_proj.*
    block.ln_1.*, block.ln_2.*      block.layer_norm1.*, block.layer_norm2.*
    block.mlp.c_fc.*, mlp.c_proj.*  block.mlp.fc1.*, block.mlp.fc2.*

Conventions:

- Architectures are open_clip's names (``ViT-B-32``, ``ViT-L-14-quickgelu``...). Their dimensions come from the
  installed open_clip package's ``model_configs/<name>.json`` when there is one, else from :data:`BUILTIN_ARCHS`
  (the same numbers, so conversion works without open_clip). Only plain ViT CLIP configs can be expressed as a
  ``CLIPModel``; modified-ResNet (RN50...), timm, Hugging Face text towers, SigLIP and CoCa are refused.
- Activation: open_clip has one flag for both towers, ``quick_gelu``. OpenAI's CLIP was trained with QuickGELU, so
  every checkpoint fine-tuned from OpenAI weights (RemoteCLIP, GeoRSCLIP: loaded in open_clip with
  ``pretrained="openai"``, which switches QuickGELU on) needs ``quick_gelu`` even under the plain arch name. The
  default is therefore ``quick_gelu`` for the ``-quickgelu`` names and for the archs OpenAI released
  (:data:`OPENAI_ARCHS`), ``gelu`` otherwise; pass ``act`` explicitly for a model trained from scratch.
- Text pooling: open_clip pools at the argmax of the token ids (the end-of-text token, 49407, is the largest id);
  the converted config sets ``eos_token_id=49407`` so ``CLIPModel`` pools at the first end-of-text token, the same
  position. open_clip pads with id 0, the ``CLIPTokenizer`` with ``<|endoftext|>``: the causal mask makes the
  padding invisible to the pooled feature either way.
- Checkpoints are read with ``torch.load(weights_only=True)`` (never arbitrary code) or safetensors; a
  ``{"state_dict": ...}`` wrapper and ``module.`` prefixes (DistributedDataParallel) are removed; the constant
  entries of OpenAI's own state dicts (``input_resolution``, ``context_length``, ``vocab_size``) and the
  ``attn_mask`` buffer are ignored.
- Weights keep their dtype through the mapping; ``CLIPModel`` stores float32 (an fp16 checkpoint is upcast, which
  is lossless, and the reverse direction writes the dtype of the model folder).
- Outputs are written to a temporary folder beside ``out`` and renamed at the end: a failed conversion leaves
  nothing behind. ``out`` must not exist or be an empty folder.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import pickle
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rsmodel.errors import CheckpointError, OptionError, OutputFolderError

if TYPE_CHECKING:
    import torch

OPENCLIP_INSTALL_HINT = "pip install --no-deps open_clip_torch ftfy regex"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
BPE_VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
BOS_TOKEN_ID, EOS_TOKEN_ID = 49406, 49407
ACTIVATIONS = ("quick_gelu", "gelu")
# Archs whose OpenAI weights exist: checkpoints under these names are fine-tunes of OpenAI CLIP (QuickGELU).
OPENAI_ARCHS = ("ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336")
# Entries of OpenAI's state dicts that are constants, not weights, and a buffer older open_clip versions saved.
IGNORED_KEYS = ("input_resolution", "context_length", "vocab_size", "attn_mask")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")
OPENCLIP_WEIGHTS = {"safetensors": "open_clip_model.safetensors", "pt": "open_clip_pytorch_model.bin"}
OPENCLIP_CONFIG = "open_clip_config.json"


@dataclass(frozen=True)
class OpenClipArch:
    """The dimensions of one open_clip ViT CLIP architecture (what ``model_configs/<name>.json`` declares)."""

    name: str
    embed_dim: int
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    vision_heads: int
    text_width: int
    text_layers: int
    text_heads: int
    quick_gelu: bool = False
    vision_mlp_ratio: float = 4.0
    text_mlp_ratio: float = 4.0
    context_length: int = 77
    vocab_size: int = 49408

    @property
    def default_act(self) -> str:
        return "quick_gelu" if self.quick_gelu or self.name in OPENAI_ARCHS else "gelu"


def _builtin_archs() -> dict[str, OpenClipArch]:
    base = {
        "ViT-B-32": dict(embed_dim=512, image_size=224, patch_size=32, vision_width=768, vision_layers=12,
                         vision_heads=12, text_width=512, text_layers=12, text_heads=8),
        "ViT-B-16": dict(embed_dim=512, image_size=224, patch_size=16, vision_width=768, vision_layers=12,
                         vision_heads=12, text_width=512, text_layers=12, text_heads=8),
        "ViT-L-14": dict(embed_dim=768, image_size=224, patch_size=14, vision_width=1024, vision_layers=24,
                         vision_heads=16, text_width=768, text_layers=12, text_heads=12),
        "ViT-L-14-336": dict(embed_dim=768, image_size=336, patch_size=14, vision_width=1024, vision_layers=24,
                             vision_heads=16, text_width=768, text_layers=12, text_heads=12),
        "ViT-H-14": dict(embed_dim=1024, image_size=224, patch_size=14, vision_width=1280, vision_layers=32,
                         vision_heads=16, text_width=1024, text_layers=24, text_heads=16),
    }
    table = {}
    for name, dims in base.items():
        table[name] = OpenClipArch(name, **dims)
        table[name + "-quickgelu"] = OpenClipArch(name + "-quickgelu", quick_gelu=True, **dims)
    return table


# The archs conversion knows without open_clip installed (numbers as in open_clip's model_configs).
BUILTIN_ARCHS: dict[str, OpenClipArch] = _builtin_archs()


# ---------------------------------------------------------------------------------------------------- archs

def openclip_package_dir() -> Path | None:
    """The installed open_clip package folder, found without importing it (its import needs torchvision)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def list_archs() -> list[str]:
    """Every arch name conversion accepts: the built-in ones and the convertible configs of installed open_clip."""
    names = set(BUILTIN_ARCHS)
    package = openclip_package_dir()
    if package is not None:
        for path in (package / "model_configs").glob("*.json"):
            try:
                arch_from_openclip_config(path.stem, json.loads(path.read_text()))
            except (OptionError, ValueError):
                continue
            names.add(path.stem)
    return sorted(names)


def resolve_arch(name: str) -> OpenClipArch:
    """The arch ``name``, from open_clip's ``model_configs`` when installed, else from :data:`BUILTIN_ARCHS`."""
    package = openclip_package_dir()
    config_path = package / "model_configs" / f"{name}.json" if package is not None else None
    if config_path is not None and config_path.is_file():
        return arch_from_openclip_config(name, json.loads(config_path.read_text()))
    if name in BUILTIN_ARCHS:
        return BUILTIN_ARCHS[name]
    hint = "" if package is not None else f" (more become available with: {OPENCLIP_INSTALL_HINT})"
    raise OptionError(f"--arch {name!r} is not a known open_clip ViT architecture; known: "
                      f"{', '.join(list_archs())}{hint}")


_ALLOWED_TOP = {"embed_dim", "quick_gelu", "vision_cfg", "text_cfg", "init_logit_scale"}
_ALLOWED_VISION = {"image_size", "layers", "width", "patch_size", "head_width", "mlp_ratio"}
_ALLOWED_TEXT = {"context_length", "vocab_size", "width", "heads", "layers", "mlp_ratio"}


def arch_from_openclip_config(name: str, config: Mapping) -> OpenClipArch:
    """An :class:`OpenClipArch` from an open_clip model config (``model_configs/*.json`` or ``model_cfg``).

    Refuses, naming the reason, every config that ``CLIPModel`` cannot express exactly.
    """
    vision, text = dict(config.get("vision_cfg", {})), dict(config.get("text_cfg", {}))
    if isinstance(vision.get("layers"), (list, tuple)) or name.startswith("RN"):
        raise OptionError(f"--arch {name!r} is a modified-ResNet CLIP: transformers' CLIPModel has no such image "
                          "tower, so only ViT archs can be converted")
    extra = sorted((set(config) - _ALLOWED_TOP) | {f"vision_cfg.{k}" for k in set(vision) - _ALLOWED_VISION}
                   | {f"text_cfg.{k}" for k in set(text) - _ALLOWED_TEXT})
    if extra:
        raise OptionError(f"--arch {name!r} uses {', '.join(extra)}, which transformers' CLIPModel cannot "
                          "express; only plain ViT CLIP archs can be converted")
    if not isinstance(vision.get("image_size", 224), int) or not isinstance(vision.get("patch_size"), int):
        raise OptionError(f"--arch {name!r}: non-square image or patch sizes cannot be converted")
    width = vision["width"]
    head_width = vision.get("head_width", 64)
    return OpenClipArch(
        name=name, embed_dim=config["embed_dim"], image_size=vision.get("image_size", 224),
        patch_size=vision["patch_size"], vision_width=width, vision_layers=vision["layers"],
        vision_heads=width // head_width, text_width=text.get("width", 512), text_layers=text.get("layers", 12),
        text_heads=text.get("heads", 8), quick_gelu=bool(config.get("quick_gelu", False)),
        vision_mlp_ratio=float(vision.get("mlp_ratio", 4.0)), text_mlp_ratio=float(text.get("mlp_ratio", 4.0)),
        context_length=text.get("context_length", 77), vocab_size=text.get("vocab_size", 49408))


def openclip_model_cfg(arch: OpenClipArch, act: str) -> dict:
    """``model_cfg`` as open_clip's ``create_model`` expects it (and ``open_clip_config.json`` stores it)."""
    vision = {"image_size": arch.image_size, "layers": arch.vision_layers, "width": arch.vision_width,
              "patch_size": arch.patch_size}
    if arch.vision_width // arch.vision_heads != 64:
        vision["head_width"] = arch.vision_width // arch.vision_heads
    if arch.vision_mlp_ratio != 4.0:
        vision["mlp_ratio"] = arch.vision_mlp_ratio
    text = {"context_length": arch.context_length, "vocab_size": arch.vocab_size, "width": arch.text_width,
            "heads": arch.text_heads, "layers": arch.text_layers}
    if arch.text_mlp_ratio != 4.0:
        text["mlp_ratio"] = arch.text_mlp_ratio
    cfg = {"embed_dim": arch.embed_dim}
    if act == "quick_gelu":
        cfg["quick_gelu"] = True
    cfg.update(vision_cfg=vision, text_cfg=text)
    return cfg


def clip_config(arch: OpenClipArch, act: str):
    """The transformers ``CLIPConfig`` of ``arch`` with activation ``act`` (``quick_gelu`` or ``gelu``)."""
    from transformers import CLIPConfig

    _check_act(act)
    text = dict(vocab_size=arch.vocab_size, hidden_size=arch.text_width,
                intermediate_size=int(arch.text_width * arch.text_mlp_ratio), num_hidden_layers=arch.text_layers,
                num_attention_heads=arch.text_heads, max_position_embeddings=arch.context_length,
                hidden_act=act, layer_norm_eps=1e-5, projection_dim=arch.embed_dim,
                bos_token_id=BOS_TOKEN_ID, eos_token_id=EOS_TOKEN_ID, pad_token_id=EOS_TOKEN_ID)
    vision = dict(hidden_size=arch.vision_width, intermediate_size=int(arch.vision_width * arch.vision_mlp_ratio),
                  num_hidden_layers=arch.vision_layers, num_attention_heads=arch.vision_heads, num_channels=3,
                  image_size=arch.image_size, patch_size=arch.patch_size, hidden_act=act, layer_norm_eps=1e-5,
                  projection_dim=arch.embed_dim)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=arch.embed_dim)


def arch_from_clip_config(config, name: str = "converted") -> tuple[OpenClipArch, str]:
    """The open_clip arch and activation of a transformers ``CLIPConfig``; refuses what open_clip cannot build."""
    text, vision = config.text_config, config.vision_config
    acts = {text.hidden_act, vision.hidden_act}
    if len(acts) != 1 or not acts <= set(ACTIVATIONS):
        raise OptionError(f"the model uses activations {sorted(acts)}; open_clip has one activation for both "
                          f"towers, one of {', '.join(ACTIVATIONS)}")
    for tower in (text, vision):
        if tower.layer_norm_eps != 1e-5:
            raise OptionError(f"the model's layer_norm_eps is {tower.layer_norm_eps}; open_clip uses 1e-5")
        if tower.hidden_size % tower.num_attention_heads:
            raise OptionError("hidden_size is not a multiple of num_attention_heads")
    arch = OpenClipArch(
        name=name, embed_dim=config.projection_dim, image_size=vision.image_size, patch_size=vision.patch_size,
        vision_width=vision.hidden_size, vision_layers=vision.num_hidden_layers,
        vision_heads=vision.num_attention_heads, text_width=text.hidden_size, text_layers=text.num_hidden_layers,
        text_heads=text.num_attention_heads, quick_gelu=acts == {"quick_gelu"},
        vision_mlp_ratio=_mlp_ratio(vision.hidden_size, vision.intermediate_size),
        text_mlp_ratio=_mlp_ratio(text.hidden_size, text.intermediate_size),
        context_length=text.max_position_embeddings, vocab_size=text.vocab_size)
    return arch, acts.pop()


def _mlp_ratio(width: int, hidden: int) -> float:
    """The ``mlp_ratio`` for which open_clip's ``int(width * mlp_ratio)`` gives ``hidden`` (floats can fall short)."""
    ratio = hidden / width
    return ratio if int(width * ratio) == hidden else (hidden + 0.5) / width


def expected_openclip_shapes(arch: OpenClipArch) -> dict[str, tuple[int, ...]]:
    """Every key of an open_clip state dict of ``arch`` with its shape."""
    shapes: dict[str, tuple[int, ...]] = {
        "positional_embedding": (arch.context_length, arch.text_width),
        "token_embedding.weight": (arch.vocab_size, arch.text_width),
        "ln_final.weight": (arch.text_width,), "ln_final.bias": (arch.text_width,),
        "text_projection": (arch.text_width, arch.embed_dim),
        "logit_scale": (),
        "visual.class_embedding": (arch.vision_width,),
        "visual.positional_embedding": ((arch.image_size // arch.patch_size) ** 2 + 1, arch.vision_width),
        "visual.conv1.weight": (arch.vision_width, 3, arch.patch_size, arch.patch_size),
        "visual.proj": (arch.vision_width, arch.embed_dim),
    }
    for ln in ("visual.ln_pre", "visual.ln_post"):
        shapes[f"{ln}.weight"] = shapes[f"{ln}.bias"] = (arch.vision_width,)
    for prefix, width, layers, ratio in (("transformer", arch.text_width, arch.text_layers, arch.text_mlp_ratio),
                                         ("visual.transformer", arch.vision_width, arch.vision_layers,
                                          arch.vision_mlp_ratio)):
        hidden = int(width * ratio)
        for n in range(layers):
            block = f"{prefix}.resblocks.{n}."
            shapes.update({
                block + "attn.in_proj_weight": (3 * width, width), block + "attn.in_proj_bias": (3 * width,),
                block + "attn.out_proj.weight": (width, width), block + "attn.out_proj.bias": (width,),
                block + "ln_1.weight": (width,), block + "ln_1.bias": (width,),
                block + "ln_2.weight": (width,), block + "ln_2.bias": (width,),
                block + "mlp.c_fc.weight": (hidden, width), block + "mlp.c_fc.bias": (hidden,),
                block + "mlp.c_proj.weight": (width, hidden), block + "mlp.c_proj.bias": (width,),
            })
    return shapes


# ---------------------------------------------------------------------------------------------- state dicts

_TOP_LEVEL = {  # open_clip key -> CLIPModel key, for tensors that are only renamed
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
    "logit_scale": "logit_scale",
    "visual.class_embedding": "vision_model.embeddings.class_embedding",
    "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "visual.ln_post.weight": "vision_model.post_layernorm.weight",
    "visual.ln_post.bias": "vision_model.post_layernorm.bias",
}
_TRANSPOSED = {"text_projection": "text_projection.weight", "visual.proj": "visual_projection.weight"}
_BLOCK = {  # within one residual block
    "attn.out_proj.weight": "self_attn.out_proj.weight", "attn.out_proj.bias": "self_attn.out_proj.bias",
    "ln_1.weight": "layer_norm1.weight", "ln_1.bias": "layer_norm1.bias",
    "ln_2.weight": "layer_norm2.weight", "ln_2.bias": "layer_norm2.bias",
    "mlp.c_fc.weight": "mlp.fc1.weight", "mlp.c_fc.bias": "mlp.fc1.bias",
    "mlp.c_proj.weight": "mlp.fc2.weight", "mlp.c_proj.bias": "mlp.fc2.bias",
}
_TOWERS = (("transformer.resblocks.", "text_model.encoder.layers."),
           ("visual.transformer.resblocks.", "vision_model.encoder.layers."))
_BLOCK_KEY = re.compile(r"^(transformer|visual\.transformer)\.resblocks\.(\d+)\.(.+)$")
_HF_BLOCK_KEY = re.compile(r"^(text_model|vision_model)\.encoder\.layers\.(\d+)\.(.+)$")


def openclip_to_hf_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename/split/transpose a validated open_clip state dict into ``CLIPModel`` keys (see the module docstring)."""
    hf: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if key in _TOP_LEVEL:
            hf[_TOP_LEVEL[key]] = tensor
        elif key in _TRANSPOSED:
            hf[_TRANSPOSED[key]] = tensor.t().contiguous()
        else:
            match = _BLOCK_KEY.match(key)
            if match is None:
                raise KeyError(key)
            tower = "text_model" if match.group(1) == "transformer" else "vision_model"
            block, rest = f"{tower}.encoder.layers.{match.group(2)}.", match.group(3)
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                kind = "weight" if rest.endswith("weight") else "bias"
                for name, part in zip("qkv", tensor.chunk(3, dim=0)):
                    hf[f"{block}self_attn.{name}_proj.{kind}"] = part.contiguous()
            else:
                hf[block + _BLOCK[rest]] = tensor
    return hf


def hf_to_openclip_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`openclip_to_hf_state_dict` (buffers such as ``position_ids`` are dropped)."""
    import torch

    top = {v: k for k, v in _TOP_LEVEL.items()}
    transposed = {v: k for k, v in _TRANSPOSED.items()}
    block_names = {v: k for k, v in _BLOCK.items()}
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, tensor in state_dict.items():
        if key in top:
            out[top[key]] = tensor
        elif key in transposed:
            out[transposed[key]] = tensor.t().contiguous()
        elif key.endswith("position_ids"):
            continue
        else:
            match = _HF_BLOCK_KEY.match(key)
            if match is None:
                raise CheckpointError("<model>", f"unexpected CLIPModel key {key!r}")
            prefix = "transformer" if match.group(1) == "text_model" else "visual.transformer"
            block, rest = f"{prefix}.resblocks.{match.group(2)}.", match.group(3)
            attn = re.match(r"^self_attn\.([qkv])_proj\.(weight|bias)$", rest)
            if attn:
                qkv.setdefault((block, attn.group(2)), {})[attn.group(1)] = tensor
            else:
                out[block + block_names[rest]] = tensor
    for (block, kind), parts in qkv.items():
        out[f"{block}attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]], dim=0)
    return out


def load_openclip_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The open_clip state dict in ``path`` (``.pt``/``.pth``/``.bin``/``.ckpt`` or ``.safetensors``).

    Unwraps ``{"state_dict": ...}``, strips ``module.`` prefixes and drops :data:`IGNORED_KEYS`. Never runs code
    from the file: pickles are read with ``torch.load(weights_only=True)``.
    """
    return _read_checkpoint(path)[0]


def _read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(path, f"unknown checkpoint suffix {path.suffix!r}; expected one of "
                              f"{', '.join(CHECKPOINT_SUFFIXES)}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            loaded = load_file(str(path))
        except Exception as error:  # noqa: BLE001 - safetensors raises its own, undocumented error types
            raise CheckpointError(path, f"not a readable safetensors file (truncated or corrupt?): {error}") \
                from None
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(path, "refused: the file needs arbitrary code to unpickle, and checkpoints are "
                                  "only read with torch.load(weights_only=True) (" + first_line + "). Save a "
                                  "plain state dict (model.state_dict()) or safetensors from a trusted "
                                  "environment and convert that") from None
        except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(path, f"not a readable torch checkpoint (truncated or corrupt?): {first_line}") \
                from None
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping):
        raise CheckpointError(path, f"holds a {type(loaded).__name__}, not a state dict (a mapping of names to "
                              "tensors, possibly under 'state_dict')")
    state_dict, ignored = {}, []
    for key, value in loaded.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(path, f"entry {key!r} is a {type(value).__name__}, not a tensor: not a state dict")
        key = key.removeprefix("module.")
        if key in IGNORED_KEYS:
            ignored.append(key)
        else:
            state_dict[key] = value
    return state_dict, tuple(ignored)


def check_openclip_state_dict(state_dict: Mapping[str, torch.Tensor], arch: OpenClipArch,
                              path: str | Path) -> None:
    """Raise :class:`CheckpointError` naming the arch and the first bad keys unless the shapes match ``arch``."""
    if any(k.startswith(("visual.layer1.", "visual.attnpool.")) for k in state_dict):
        raise CheckpointError(path, "is a modified-ResNet (RN50-style) open_clip checkpoint (visual.layer1..., "
                              "visual.attnpool...): transformers' CLIPModel has no such image tower; only ViT "
                              "checkpoints can be converted")
    expected = expected_openclip_shapes(arch)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [f"{k} {tuple(state_dict[k].shape)} (expected {expected[k]})" for k in expected
                  if k in state_dict and tuple(state_dict[k].shape) != expected[k]]
    if not (missing or unexpected or mismatched):
        return
    problems = []
    for label, items in (("shape mismatches", mismatched), ("missing keys", missing),
                         ("unexpected keys", unexpected)):
        if items:
            shown = ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
            problems.append(f"{len(items)} {label}: {shown}")
    guess = [name for name in list_archs() if name != arch.name and _shapes_match(state_dict, name)]
    hint = f"; the weights match --arch {' / '.join(guess)}" if guess else ""
    raise CheckpointError(path, f"is not an open_clip {arch.name} state dict: {'; '.join(problems)}{hint}")


def _shapes_match(state_dict: Mapping[str, torch.Tensor], arch_name: str) -> bool:
    expected = expected_openclip_shapes(resolve_arch(arch_name))
    return expected.keys() == state_dict.keys() and all(
        tuple(state_dict[k].shape) == shape for k, shape in expected.items())


# ------------------------------------------------------------------------------------------------ tokenizer

def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (and GPT-2's) reversible map from bytes to printable unicode characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def clip_bpe_vocab(bpe_path: str | Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """``(vocab, merges)`` built from CLIP's ``bpe_simple_vocab_16e6.txt.gz`` exactly as CLIP's tokenizer does."""
    path = Path(bpe_path)
    try:
        with gzip.open(path) as handle:
            lines = handle.read().decode("utf-8").split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise CheckpointError(path, f"not a readable CLIP BPE vocabulary (.txt.gz): {error}") from None
    merges = lines[1:49152 - 256 - 2 + 1]  # line 0 is a header; CLIP uses this many merges
    pairs = [tuple(merge.split()) for merge in merges]
    if len(pairs) != 48894 or any(len(pair) != 2 for pair in pairs):
        raise CheckpointError(path, f"does not hold CLIP's 48894 BPE merges (found {len(pairs)} lines)")
    units = list(bytes_to_unicode().values())
    tokens = units + [unit + "</w>" for unit in units] + ["".join(pair) for pair in pairs]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, pairs


def shipped_bpe_vocab() -> Path:
    """CLIP's ``bpe_simple_vocab_16e6.txt.gz`` as rsmodel ships it (``rsmodel/vocab/``, package data, MIT licence
    of OpenAI CLIP in ``rsmodel/vocab/LICENSE``): the same bytes open_clip ships, so rsclip[model] needs no
    open_clip to build the tokenizer."""
    return Path(__file__).resolve().parent / "vocab" / BPE_VOCAB_FILE


def load_tokenizer(source: str | Path | None, context_length: int = 77):
    """A ``CLIPTokenizer``: from a tokenizer folder, a ``bpe_simple_vocab_16e6.txt.gz``, or (``None``) CLIP's BPE
    vocabulary shipped with rsmodel (:func:`shipped_bpe_vocab`)."""
    from transformers import AutoTokenizer, CLIPTokenizer

    source = Path(shipped_bpe_vocab() if source is None else source)
    if source.is_file():
        vocab, merges = clip_bpe_vocab(source)
        return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=context_length)
    if source.is_dir():
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
        except (OSError, ValueError) as error:
            raise CheckpointError(source, f"not a tokenizer folder: {error}") from None
        if tokenizer.convert_tokens_to_ids("<|endoftext|>") != EOS_TOKEN_ID:
            raise CheckpointError(source, "is not a CLIP tokenizer (<|endoftext|> is not id 49407)")
        return tokenizer
    raise CheckpointError(source, "--tokenizer: no such file or folder")


def image_processor(arch: OpenClipArch):
    """CLIP's preprocessing at the arch's image size: bicubic shortest-edge resize, centre crop, OpenAI mean/std."""
    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(do_resize=True, size={"shortest_edge": arch.image_size}, resample=3,
                              do_center_crop=True, crop_size={"height": arch.image_size, "width": arch.image_size},
                              do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
                              image_mean=list(OPENAI_MEAN), image_std=list(OPENAI_STD), do_convert_rgb=True)


# ---------------------------------------------------------------------------------------------- conversions

@dataclass(frozen=True)
class ConversionSummary:
    source: str
    out: str
    arch: str
    act: str
    tensors: int
    parameters: int
    ignored_keys: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return asdict(self)


def convert_openclip_to_hf(checkpoint: str | Path, arch: str | OpenClipArch, out: str | Path, *,
                           act: str | None = None, tokenizer: str | Path | None = None) -> ConversionSummary:
    """Write a ``CLIPModel`` folder (safetensors + config + ``CLIPProcessor``) converted from an open_clip
    checkpoint of ``arch`` (a name or an :class:`OpenClipArch`). Nothing is written unless every check passes."""
    from transformers import CLIPModel, CLIPProcessor

    out = Path(out)
    _check_out(out)
    arch = resolve_arch(arch) if isinstance(arch, str) else arch
    act = act or arch.default_act
    _check_act(act)
    state_dict, ignored = _read_checkpoint(checkpoint)
    check_openclip_state_dict(state_dict, arch, checkpoint)
    tok = load_tokenizer(tokenizer, arch.context_length)
    hf_state = openclip_to_hf_state_dict(state_dict)
    model = CLIPModel(clip_config(arch, act))
    result = model.load_state_dict(hf_state, strict=False)
    # position_ids are non-persistent buffers in current transformers and persistent in some older ones
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise CheckpointError(checkpoint, f"the mapping to CLIPModel left missing keys {missing[:3]} and "
                              f"unexpected keys {result.unexpected_keys[:3]} (a bug in rsmodel.convert)")
    processor = CLIPProcessor(image_processor=image_processor(arch), tokenizer=tok)
    with _staged(out) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        processor.save_pretrained(staging)
    return ConversionSummary(str(checkpoint), str(out), arch.name, act, len(state_dict),
                             sum(t.numel() for t in state_dict.values()), ignored)


def convert_hf_to_openclip(model_dir: str | Path, out: str | Path, *, fmt: str = "safetensors") \
        -> ConversionSummary:
    """Write an open_clip state dict (``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``) and
    ``open_clip_config.json`` from a ``CLIPModel`` folder; the weights keep the folder's dtype."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    model_dir, out = Path(model_dir), Path(out)
    if fmt not in OPENCLIP_WEIGHTS:
        raise OptionError(f"--format {fmt!r}: expected one of {', '.join(OPENCLIP_WEIGHTS)}")
    _check_out(out)
    if not (model_dir / "config.json").is_file():
        raise CheckpointError(model_dir, "not a CLIPModel folder (no config.json)")
    try:
        config = CLIPConfig.from_pretrained(str(model_dir), local_files_only=True)
        arch, act = arch_from_clip_config(config, name=model_dir.name)
        model = CLIPModel.from_pretrained(str(model_dir), local_files_only=True, dtype="auto")
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(model_dir, f"cannot load as a CLIPModel: {error}") from None
    state_dict = hf_to_openclip_state_dict(model.state_dict())
    check_openclip_state_dict(state_dict, arch, model_dir)
    config_json = {"model_cfg": openclip_model_cfg(arch, act),
                   "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD),
                                      "interpolation": "bicubic", "resize_mode": "shortest"}}
    with _staged(out) as staging:
        weights = staging / OPENCLIP_WEIGHTS[fmt]
        if fmt == "safetensors":
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in state_dict.items()}, str(weights))
        else:
            torch.save(state_dict, weights)
        (staging / OPENCLIP_CONFIG).write_text(json.dumps(config_json, indent=2) + "\n")
    return ConversionSummary(str(model_dir), str(out), arch.name, act, len(state_dict),
                             sum(t.numel() for t in state_dict.values()))


# -------------------------------------------------------------------------------------------------- helpers

def _check_act(act: str) -> None:
    if act not in ACTIVATIONS:
        raise OptionError(f"--act {act!r}: expected one of {', '.join(ACTIVATIONS)}")


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputFolderError(f"{out}: the output folder exists and is not empty; choose a new folder or remove "
                                "it first")


@contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed to ``out`` when the block succeeds and removed otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield staging
        _check_out(out)
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
