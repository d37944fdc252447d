"""Rotary position embeddings (RoPE; Su et al. 2021, "RoFormer").

Dimension legend:
    B batch   H heads   T positions   K head width (even)   P = K/2 pairs of dimensions

Instead of adding a position vector to the tokens, RoPE turns each query and key of
self-attention by an angle that grows with its position: dimensions (2i, 2i+1) form a pair,
rotated in their plane by position · θ_i, with θ_i = 10000^(−2i/K) as in the paper. A rotation
keeps lengths and composes by adding angles, so the score of query m and key n,
⟨R(m)q, R(n)k⟩ = ⟨q, R(n − m)k⟩, depends on their positions only through the offset n − m:
attention reads relative positions, with no parameters to learn.

Only self-attention rotates. Cross-attention compares decoder positions with the encoder
positions of another sequence, and the offset between those two means nothing.

A rotation's inverse is its transpose, the rotation by −angle: that is its backward pass
(`rotate(dy, rotation, inverse=True)`), used by `models/backprop`.

>>> rotation = rotation_at(torch.arange(3), head_width=2)  # one pair, θ_0 = 1 radian a step
>>> x = torch.tensor([[[[1.0, 0.0]] * 3]])  # (B 1, H 1, T 3, K 2): the same vector at 0, 1, 2
>>> rotate(x, rotation)[0, 0].round(decimals=3)  # turned by 0, 1 and 2 radians
tensor([[ 1.0000,  0.0000],
        [ 0.5400,  0.8410],
        [-0.4160,  0.9090]])
>>> torch.allclose(rotate(rotate(x, rotation), rotation, inverse=True), x)
True
"""

from __future__ import annotations

from typing import NamedTuple

import torch

BASE = 10000.0  # the paper's, as for the sinusoidal encoding


class Rotation(NamedTuple):
    """cos and sin of each position's angle for each pair: (B, 1, T, P), or (1, T, P) when
    every row has the same positions; the head axis broadcasts."""

    cos: torch.Tensor
    sin: torch.Tensor


def rotation_at(
    positions: torch.Tensor, head_width: int, dtype: torch.dtype = torch.float32
) -> Rotation:
    """The rotation of positions (T,) or (B, T), for heads of `head_width` (even).

    Generation passes (B, T): each row's new positions, counted from its first real token,
    so a left-padded prompt and each cached step are turned at their absolute positions."""
    frequencies = BASE ** (
        -torch.arange(0, head_width, 2, device=positions.device, dtype=dtype) / head_width
    )  # (P,): θ_i
    angles = positions.to(dtype)[..., None] * frequencies  # (T, P) or (B, T, P)
    angles = angles.unsqueeze(-3)  # (1, T, P) or (B, 1, T, P): the same for every head
    return Rotation(angles.cos(), angles.sin())


def rotate(x: torch.Tensor, rotation: Rotation, inverse: bool = False) -> torch.Tensor:
    """x (B, H, T, K) with each pair (x₂ᵢ, x₂ᵢ₊₁) turned by its angle, or back (`inverse`):
    y₂ᵢ = x₂ᵢ cos − x₂ᵢ₊₁ sin,   y₂ᵢ₊₁ = x₂ᵢ sin + x₂ᵢ₊₁ cos."""
    sin = -rotation.sin if inverse else rotation.sin
    pairs = x.unflatten(-1, (-1, 2))  # (B, H, T, P, 2)
    even, odd = pairs[..., 0], pairs[..., 1]  # (B, H, T, P) each
    turned = (even * rotation.cos - odd * sin, even * sin + odd * rotation.cos)
    return torch.stack(turned, dim=-1).flatten(-2)  # (B, H, T, K)
