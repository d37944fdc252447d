"""The core's layers with their backward passes written out: linear, embedding, LayerNorm,
GELU, ReLU, tanh, dropout and the masked mean.

Every layer works the same way. `forward` computes its output with plain tensor maths and
saves, in `self.saved`, what its backward needs. `backward(dy)` takes the gradient of the loss
with respect to the output, dy = ∂loss/∂y, and returns dx = ∂loss/∂x. A layer with weights
also adds their gradients to each weight's `.grad` (see `accumulate`), where any PyTorch
optimizer finds them. No backward asks autograd for anything; the trainer runs both passes
under `torch.no_grad()`.

Dimension legend: N any leading dimensions (batch, positions)   I in   O out   V rows of
an embedding table   D model width.

>>> layer = Linear(torch.nn.Linear(3, 2))
>>> y = layer.forward(torch.ones(4, 3))  # (4, 2)
>>> dx = layer.backward(torch.ones(4, 2))  # (4, 3); the weight's gradient is in .grad now
>>> dx.shape, layer.weight.grad.shape, layer.bias.grad.tolist()
(torch.Size([4, 3]), torch.Size([2, 3]), [4.0, 4.0])
"""

from __future__ import annotations

import math

import torch
from torch import nn


def accumulate(parameter: nn.Parameter, grad: torch.Tensor) -> None:
    """Add `grad` to `parameter.grad`. Adding, never overwriting, is what makes a weight used
    twice right: the tied token embedding is read by the embedding and by the LM head, and
    its gradient is the sum of both uses (the multivariate chain rule)."""
    if parameter.grad is None:
        parameter.grad = grad.detach().clone()
    else:
        parameter.grad += grad


class Linear:
    """y = x Wᵀ + b. x (N, I), W (O, I), b (O) -> y (N, O).

    Backward: dx = dy W;  dW = Σ_N dyᵀ x;  db = Σ_N dy.
    """

    def __init__(self, module: nn.Linear) -> None:
        self.weight, self.bias = module.weight, module.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.saved = x
        return x @ self.weight.T + self.bias

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        x = self.saved
        accumulate(self.weight, dy.flatten(0, -2).T @ x.flatten(0, -2))  # (O, I)
        accumulate(self.bias, dy.flatten(0, -2).sum(dim=0))  # (O,)
        return dy @ self.weight  # (N, I)


class Embedding:
    """y = W[ids]: each id picks a row of the table. ids (N) -> y (N, D); W (V, D).

    Backward: only the rows that were read get a gradient, each the sum of dy over every
    place its id occurs (a scatter-add). There is no dx: ids are not differentiable.
    """

    def __init__(self, module: nn.Embedding) -> None:
        self.weight = module.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.saved = ids
        return self.weight[ids]

    def backward(self, dy: torch.Tensor) -> None:
        ids = self.saved
        grad = torch.zeros_like(self.weight)  # (V, D)
        grad.index_add_(0, ids.flatten(), dy.flatten(0, -2).to(grad.dtype))
        accumulate(self.weight, grad)


class LayerNorm:
    """y = γ x̂ + β, x̂ = (x − μ) / σ over the last axis: μ the mean, σ = √(var + ε), var the
    biased variance. x (N, D) -> y (N, D).

    Backward, the full vector-Jacobian product (μ and σ depend on every x_j of the row, so
    each x_j reaches the loss by three paths: directly, through μ and through σ):
        dβ = Σ_N dy,   dγ = Σ_N dy ⊙ x̂,   g = dy ⊙ γ,
        dx = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / σ            (means over D)
    The mean(g) term is the path through μ, the x̂ ⊙ mean(g ⊙ x̂) term the path through σ;
    dropping either gives a gradient that is wrong but still looks plausible.
    """

    def __init__(self, module: nn.LayerNorm) -> None:
        self.weight, self.bias, self.eps = module.weight, module.bias, module.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        sigma = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + self.eps)  # (N, 1)
        normalized = (x - mean) / sigma
        self.saved = normalized, sigma
        return normalized * self.weight + self.bias

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        normalized, sigma = self.saved
        accumulate(self.weight, (dy * normalized).flatten(0, -2).sum(dim=0))
        accumulate(self.bias, dy.flatten(0, -2).sum(dim=0))
        g = dy * self.weight
        through_mean = g.mean(dim=-1, keepdim=True)
        through_sigma = normalized * (g * normalized).mean(dim=-1, keepdim=True)
        return (g - through_mean - through_sigma) / sigma


class GELU:
    """y = x Φ(x), Φ the standard normal CDF (the exact erf form, as `nn.GELU()`).

    Backward: dy ⊙ (Φ(x) + x φ(x)), φ(x) = exp(−x²/2) / √(2π) the normal density.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.saved = x
        return x * normal_cdf(x)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        x = self.saved
        density = torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        return dy * (normal_cdf(x) + x * density)


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) = (1 + erf(x / √2)) / 2."""
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class ReLU:
    """y = max(x, 0). Backward: dy where x > 0, else 0 (PyTorch's choice at exactly 0 too)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.saved = x > 0
        return x * self.saved

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * self.saved


class Tanh:
    """y = tanh(x). Backward: dy ⊙ (1 − y²), from the saved output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.saved = torch.tanh(x)
        return self.saved

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * (1.0 - self.saved * self.saved)


class Dropout:
    """While training: y = x ⊙ keep / (1 − p), keep ~ Bernoulli(1 − p); otherwise, or at p = 0,
    y = x. Backward: dy ⊙ keep / (1 − p), through the same saved mask.

    The mask is drawn from `generator`, or from torch's global generator when it is None (so
    that a checkpoint's saved random state resumes a training run exactly).
    """

    def __init__(self, p: float, generator: torch.Generator | None, training: bool) -> None:
        self.p, self.generator, self.training = p, generator, training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            self.saved = None
            return x
        draw = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        self.saved = (draw >= self.p).to(x.dtype) / (1.0 - self.p)
        return x * self.saved

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy if self.saved is None else dy * self.saved


class MeanPool:
    """y = Σ_s m_s h_s / n, n = max(1, Σ_s m_s): the mean of each row's real positions (the
    pooled memory of `models.transformer.mean_pool`). h (B, S, D), m (B, S) of 1/0 -> (B, 1, D).

    Backward: each real position had weight 1/n in the mean, so dh_s = m_s dy / n, the same
    share for every real position and nothing for padding.
    """

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        real = attention_mask.to(hidden.dtype)[..., None]  # (B, S, 1)
        count = real.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1, 1)
        self.saved = real, count
        return (hidden * real).sum(dim=1, keepdim=True) / count

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        real, count = self.saved
        return dy * real / count  # (B, 1, D) spread over (B, S, D)
