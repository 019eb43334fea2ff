"""The contrastive (symmetric InfoNCE) loss of CLIP over the global batch, and the gathering it needs.

Gathering is kept apart from the loss maths (as open_clip does): :func:`gather_with_grad` concatenates the features
of every process along the batch dimension *with their autograd history*, so that the gradient of one process's
loss reaches the features of the others.

Formulation ("local loss", open_clip's ``local_loss=True, gather_with_grad=True``): process ``r`` holds ``b``
image and text features (L2-normalised); it scores its own rows against every column of the global batch::

    logits_per_image = s * image_local @ text_global.T        (b x W*b)
    logits_per_text  = s * text_local  @ image_global.T       (b x W*b)
    labels           = r * b + arange(b)                      (the matching pair's column)
    loss_r           = (CE(logits_per_image, labels) + CE(logits_per_text, labels)) / 2

with ``s = exp(min(logit_scale, ln 100))``. Every row of the global batch is a row of exactly one process, so the
mean of ``loss_r`` over the processes is the loss of one process on the concatenated batch; DistributedDataParallel
averages the gradients over processes, and the gathered features carry the other processes' contributions back
(the backward of an all-gather sums them), so the averaged gradient is the gradient of that global loss. Without
gathering (what transformers' ``CLIPModel(return_loss=True)`` does under ``Trainer``) each GPU would only see its
local batch as negatives. Local batches must have the same size on every process; rsmodel's data stream only
makes full batches.

The logits are computed in float32 whatever the autocast dtype: the matrix is small (b x W*b) and the softmax of
logits scaled by up to 100 is where bf16 would lose precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rsmodel.train_recipe import MAX_LOGIT_SCALE


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` when not distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(features: torch.Tensor) -> torch.Tensor:
    """The ``features`` of every process concatenated in rank order, differentiable; ``features`` itself alone."""
    rank, world = distributed_world()
    if world == 1:
        return features
    from torch.distributed.nn.functional import all_gather

    parts = list(all_gather(features))
    # The local part is the tensor of this graph itself, so its gradient needs no trip through the collective.
    parts[rank] = features
    return torch.cat(parts, dim=0)


def clip_contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor, *,
                          max_logit_scale: float = MAX_LOGIT_SCALE) -> torch.Tensor:
    """Symmetric InfoNCE of this process's rows against the global batch (see the module docstring).

    ``image_features`` and ``text_features`` are this process's L2-normalised features (same batch size on every
    process), ``logit_scale`` the model's log-scale parameter.
    """
    image_features = image_features.float()
    text_features = text_features.float()
    rank, _ = distributed_world()
    all_image = gather_with_grad(image_features)
    all_text = gather_with_grad(text_features)
    scale = logit_scale.float().clamp(max=max_logit_scale).exp()
    logits_per_image = scale * image_features @ all_text.T
    logits_per_text = scale * text_features @ all_image.T
    local = image_features.shape[0]
    labels = torch.arange(local, device=image_features.device) + rank * local
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2
