"""The optimizer step written out: gradient-norm clipping and AdamW.

`AdamW` is a `torch.optim.Optimizer` only for its bookkeeping (parameter groups, `state_dict`,
`zero_grad`), so checkpoints save and resume it as they do torch's; every number it changes is
computed below. Its state has torch's names (`step`, `exp_avg`, `exp_avg_sq`).

>>> w = torch.nn.Parameter(torch.tensor([1.0]))
>>> w.grad = torch.tensor([0.5])
>>> optimizer = AdamW([w], lr=0.1, weight_decay=0.0)
>>> optimizer.step()  # the first step moves by lr · sign(g): m̂ / √v̂ = g / |g|
>>> w.data
tensor([0.9000])
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def clip_grad_norm(parameters: Iterable[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale every gradient by min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm of all the
    gradients together, as `torch.nn.utils.clip_grad_norm_` does. Returns ‖g‖ before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = torch.sqrt(sum((g * g).sum() for g in grads))
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor)
    return total


class AdamW(torch.optim.Optimizer):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2019), step t = 1, 2, …:
        θ ← θ − lr · λ · θ                      decay, apart from the gradient
        m ← β₁ m + (1 − β₁) g                   running mean of the gradient
        v ← β₂ v + (1 − β₂) g²                  running mean of its square
        θ ← θ − lr · m̂ / (√v̂ + ε),   m̂ = m / (1 − β₁ᵗ),   v̂ = v / (1 − β₂ᵗ)
    m and v start at 0, so early means are too small; dividing by 1 − βᵗ (bias correction)
    undoes that. Defaults are torch's: β = (0.9, 0.999), ε = 1e-8, λ = 0.01.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None) -> None:
        for group in self.param_groups:
            lr, (beta1, beta2) = group["lr"], group["betas"]
            eps, decay = group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = int(state["step"])
                m, v, g = state["exp_avg"], state["exp_avg_sq"], p.grad
                p.mul_(1.0 - lr * decay)
                m.mul_(beta1).add_((1.0 - beta1) * g)
                v.mul_(beta2).add_((1.0 - beta2) * g * g)
                m_hat = m / (1.0 - beta1**t)
                v_hat = v / (1.0 - beta2**t)
                p.sub_(lr * m_hat / (torch.sqrt(v_hat) + eps))
