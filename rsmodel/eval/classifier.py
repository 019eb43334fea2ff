"""The probe classifier of the linear-probe and few-shot protocols: multinomial logistic regression trained with
SGD and cosine annealing on frozen, L2-normalised image features, in torch (CPU or GPU).

Training, exactly (the tests reproduce it step for step with a NumPy oracle):

- parameters: weight ``W (classes, dim)`` and bias ``b (classes,)``, both starting at zero (the problem is
  convex, so no random initialisation is needed and none can make runs differ);
- loss: mean cross-entropy of ``x @ W.T + b`` over the batch;
- batches: every epoch visits the rows in the order ``numpy.random.default_rng(seed).permutation(n)`` (one
  generator for the whole run, one permutation per epoch), cut into consecutive batches of ``batch_size`` (the
  last one may be smaller);
- learning rate at step ``t`` of ``T = epochs * ceil(n / batch_size)``: ``0.5 * lr * (1 + cos(pi * t / T))``;
- update: ``torch.optim.SGD`` with ``momentum`` (paper: plain SGD, momentum 0) and weight decay on ``W`` only
  (the bias is not decayed, as in scikit-learn's logistic regression).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rsmodel.eval.common import first_argmax


@dataclass(frozen=True)
class ProbeHyperparameters:
    lr: float
    weight_decay: float
    epochs: int
    batch_size: int
    momentum: float = 0.0


@dataclass(frozen=True)
class LinearClassifier:
    weight: np.ndarray  # (classes, dim) float32
    bias: np.ndarray  # (classes,) float32

    def predict(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, np.float64) @ self.weight.astype(np.float64).T + self.bias.astype(np.float64)
        return first_argmax(logits)


def cosine_lr(lr: float, step: int, total_steps: int) -> float:
    return 0.5 * lr * (1.0 + math.cos(math.pi * step / total_steps))


def train_logistic_regression(features: np.ndarray, labels: np.ndarray, num_classes: int,
                              hyper: ProbeHyperparameters, *, seed: int, device: str = "cpu") -> LinearClassifier:
    """Fit the probe on ``features`` (rows already L2-normalised) and integer ``labels``; see the module docstring."""
    import torch
    import torch.nn.functional as F

    rows, dim = features.shape
    if rows == 0:
        raise ValueError("cannot train a probe on zero rows")
    x = torch.as_tensor(np.ascontiguousarray(features, dtype=np.float32), device=device)
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64), device=device)
    weight = torch.zeros(num_classes, dim, device=device, requires_grad=True)
    bias = torch.zeros(num_classes, device=device, requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [weight], "weight_decay": hyper.weight_decay},
                                 {"params": [bias], "weight_decay": 0.0}], lr=hyper.lr, momentum=hyper.momentum)
    order_rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(rows / hyper.batch_size)
    total = hyper.epochs * steps_per_epoch
    step = 0
    for _ in range(hyper.epochs):
        order = torch.as_tensor(order_rng.permutation(rows), device=device)
        for start in range(0, rows, hyper.batch_size):
            batch = order[start:start + hyper.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = cosine_lr(hyper.lr, step, total)
            loss = F.cross_entropy(x[batch] @ weight.T + bias, y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    return LinearClassifier(weight.detach().cpu().numpy(), bias.detach().cpu().numpy())
