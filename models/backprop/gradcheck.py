"""Hand-written gradients held to autograd's, layer by layer and for whole models, in float64.

Each check runs one piece two ways on the same weights and inputs: the reference (PyTorch's
own module, differentiated by autograd) and the hand-written forward and backward of
`models.backprop`. The loss is Σ y ⊙ R for a fixed random R, so the gradient flowing into the
output is R. What is compared: the outputs, then every gradient (each weight's and each
input's). The relative error of a check is max |hand − autograd| over all its gradients,
divided by the largest autograd gradient of the check: a normwise error. (A per-tensor ratio
would be meaningless for a gradient that is 0 in exact arithmetic, such as the key bias's:
adding one number to every score of a softmax row changes nothing.)

Whole models are compared through the loss itself, with padding, a fully padded row and label
smoothing. With dropout, PyTorch's masks cannot be reproduced, so the reference there is
autograd run through the hand-written forward with the same masks.

>>> checks = layer_checks(seed=0)
>>> checks[0].name, checks[0].relative < 1e-12
('linear', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models import transformer
from models.attention import MultiHeadAttention as AttentionModule
from models.attention import attend, may_attend, padding_mask, stack_masks
from models.backprop import attention as hand_attention
from models.backprop import layers
from models.backprop.loss import CrossEntropy
from models.backprop.model import Block, Dropouts, HandTransformer
from models.rope import rotate, rotation_at
from models.transformer import ModelConfig, Transformer, mean_pool

TOLERANCE = 1e-8  # the relative error a float64 check may reach


@dataclass
class Check:
    name: str
    shapes: str  # what went in, e.g. "x 3×5×8"
    output_difference: float  # max |hand − reference| over the outputs (the loss, for models)
    worst: str  # the gradient with the largest difference
    difference: float  # max |hand − autograd| over every gradient
    relative: float  # difference / the largest autograd gradient

    @property
    def passed(self) -> bool:
        return self.relative <= TOLERANCE and self.output_difference <= TOLERANCE


def size(tensor: torch.Tensor) -> str:
    """A shape as a learner writes it: "3×5×8"."""
    return "×".join(map(str, tensor.shape))


def compare(
    name: str,
    shapes: str,
    outputs: tuple[torch.Tensor, torch.Tensor],
    hand: dict[str, torch.Tensor],
    reference: dict[str, torch.Tensor],
) -> Check:
    """One `Check` from the two outputs and the two sets of gradients, by name."""
    if hand.keys() != reference.keys():
        missing = sorted(hand.keys() ^ reference.keys())
        raise AssertionError(f"{name}: gradients of {missing} on one side only")
    errors = {key: float((hand[key] - reference[key]).abs().max()) for key in reference}
    scale = max(float(grad.abs().max()) for grad in reference.values())
    worst = max(errors, key=errors.get)
    output_difference = float((outputs[0] - outputs[1]).abs().max())
    return Check(name, shapes, output_difference, worst, errors[worst], errors[worst] / scale)


def check_piece(
    name: str,
    inputs: dict[str, torch.Tensor],
    parameters: dict[str, nn.Parameter],
    reference: Callable[..., torch.Tensor],
    hand_forward: Callable[..., torch.Tensor],
    hand_backward: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    generator: torch.Generator,
) -> Check:
    """Differentiate `reference(*inputs)` with autograd and `hand_forward(*inputs)` with
    `hand_backward(dy)` (which returns the inputs' gradients and fills the parameters'),
    both for the loss Σ y ⊙ R. Inputs that are floating point get gradients."""
    leaves = {
        key: value.clone().requires_grad_(value.is_floating_point())
        for key, value in inputs.items()
    }
    differentiable = {key: value for key, value in leaves.items() if value.requires_grad}
    y_reference = reference(*leaves.values())
    upstream = torch.randn(y_reference.shape, generator=generator, dtype=y_reference.dtype)
    targets = [*differentiable.values(), *parameters.values()]
    grads = torch.autograd.grad((y_reference * upstream).sum(), targets, allow_unused=True)
    names = [*differentiable, *parameters]
    expected = {
        key: torch.zeros_like(target) if grad is None else grad
        for key, target, grad in zip(names, targets, grads)
    }
    for parameter in parameters.values():
        parameter.grad = None
    with torch.no_grad():
        y_hand = hand_forward(*inputs.values())
        found = hand_backward(upstream)
    found.update(
        {key: torch.zeros_like(p) if p.grad is None else p.grad for key, p in parameters.items()}
    )
    shapes = ", ".join(f"{key} {size(value)}" for key, value in inputs.items())
    return compare(name, shapes, (y_hand, y_reference.detach()), found, expected)


def layer_checks(seed: int = 0) -> list[Check]:
    """Every layer of the core against its PyTorch counterpart, in float64."""
    torch.manual_seed(seed)  # the modules' initial weights
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    checks = []
    batch, length, width, heads = 3, 5, 8, 2
    x = randn(batch, length, width)  # (B, T, D)

    linear = nn.Linear(width, 6).double()
    hand = layers.Linear(linear)
    checks.append(
        check_piece(
            "linear",
            {"x": x},
            dict(linear.named_parameters()),
            linear,
            hand.forward,
            lambda dy: {"x": hand.backward(dy)},
            generator,
        )
    )
    embedding = nn.Embedding(10, width).double()
    hand_embedding = layers.Embedding(embedding)
    ids = torch.tensor([[1, 2, 2, 9], [2, 0, 1, 1]])  # ids repeat: their rows sum
    checks.append(
        check_piece(
            "embedding",
            {"ids": ids},
            dict(embedding.named_parameters()),
            embedding,
            hand_embedding.forward,
            lambda dy: hand_embedding.backward(dy) or {},
            generator,
        )
    )
    norm = nn.LayerNorm(width).double()
    with torch.no_grad():  # not the initial 1 and 0, so that γ and β matter
        norm.weight.copy_(1.0 + 0.5 * randn(width))
        norm.bias.copy_(randn(width))
    hand_norm = layers.LayerNorm(norm)
    checks.append(
        check_piece(
            "layer norm",
            {"x": 3.0 * x + 1.0},
            dict(norm.named_parameters()),
            norm,
            hand_norm.forward,
            lambda dy: {"x": hand_norm.backward(dy)},
            generator,
        )
    )
    for name, module, hand_layer in (
        ("gelu", nn.GELU(), layers.GELU()),
        ("relu", nn.ReLU(), layers.ReLU()),
        ("tanh", nn.Tanh(), layers.Tanh()),
    ):
        checks.append(
            check_piece(
                name,
                {"x": x},
                {},
                module,
                hand_layer.forward,
                lambda dy, layer=hand_layer: {"x": layer.backward(dy)},
                generator,
            )
        )
    checks.append(dropout_check(x, generator, seed))
    checks += attention_checks(batch, length, width, heads, randn, generator)
    checks.append(cross_entropy_check(randn, generator))
    checks += block_checks(batch, length, width, heads, randn, generator)
    return checks


def block_checks(batch, length, width, heads, randn, generator) -> list[Check]:
    """Whole blocks against `models.transformer.Block`: an encoder's pre-LN block, and a
    decoder's post-LN block with causal self-attention and cross-attention to a memory."""
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, 3:] = 0
    mask[2] = 0
    checks = []
    for name, norm, causal in (
        ("block, pre-LN", "pre", False),
        ("block, post-LN, cross", "post", True),
    ):
        config = ModelConfig(vocab_size=1, d_model=width, heads=heads, d_ff=2 * width, norm=norm)
        module = transformer.Block(config, cross_attention=causal).double()
        for attention in (module.self_attention, module.cross_attention):
            if attention is not None:
                attention.fast = False
        hand = Block(module, Dropouts(0.0, None, training=False))
        inputs, memory_mask = {"x": randn(batch, length, width)}, None
        if causal:
            inputs["memory"] = randn(batch, length + 1, width)
            memory_mask = torch.ones(batch, length + 1, dtype=torch.long)
            memory_mask[0, -2:] = 0
        allowed, memory_allowed = stack_masks(mask, length, causal, memory_mask)

        def backward(dy, hand=hand, causal=causal):
            grads = {"x": hand.backward(dy)}
            if causal:
                grads["memory"] = hand.memory_grad
            return grads

        checks.append(
            check_piece(
                name,
                inputs,
                dict(module.named_parameters()),
                lambda x, memory=None, m=module, a=allowed, ma=memory_allowed: m(x, a, memory, ma),
                lambda x, memory=None, h=hand, a=allowed, ma=memory_allowed: h.forward(
                    x, a, memory, ma
                ),
                backward,
                generator,
            )
        )
    return checks


def dropout_check(x: torch.Tensor, generator: torch.Generator, seed: int) -> Check:
    """Dropout at p = 0.3. Reference: autograd through the same mask, drawn from the same
    seed (PyTorch's `F.dropout` draws its own)."""

    def hand_dropout() -> layers.Dropout:
        return layers.Dropout(0.3, torch.Generator().manual_seed(seed), training=True)

    hand, reference = hand_dropout(), hand_dropout()
    return check_piece(
        "dropout (p 0.3)",
        {"x": x},
        {},
        reference.forward,
        hand.forward,
        lambda dy: {"x": hand.backward(dy)},
        generator,
    )


def attention_checks(batch, length, width, heads, randn, generator) -> list[Check]:
    """Scaled dot-product attention, scaled and unscaled (against `models.attention.attend`),
    the rotary turn of queries and keys and the masked mean of pooled memory (against autograd
    through `models.rope.rotate` and `models.transformer.mean_pool`), and multi-head self- and
    cross-attention (against `models.attention.MultiHeadAttention`), with padded keys and a
    fully padded row."""
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, 3:] = 0  # two pad keys
    mask[2] = 0  # a fully padded row: may_attend lets it see every key
    allowed = may_attend(padding_mask(mask))  # (B, 1, 1, L)
    allowed = allowed.expand(-1, -1, length, -1)  # (B, 1, T, L)
    q, k, v = (randn(batch, heads, length, width // heads) for _ in range(3))
    checks = []
    for name, scale in (("attention", None), ("attention, unscaled", 1.0)):
        core = hand_attention.ScaledDotProductAttention(dropout=None, scale=scale)

        def core_backward(do, core=core):
            dq, dk, dv = core.backward(do)
            return {"q": dq, "k": dk, "v": dv}

        checks.append(
            check_piece(
                name,
                {"q": q, "k": k, "v": v},
                {},
                lambda q, k, v, scale=scale: attend(q, k, v, allowed, scale=scale)[0],
                lambda q, k, v, core=core: core.forward(q, k, v, allowed),
                core_backward,
                generator,
            )
        )
    rotation = rotation_at(torch.arange(length) + 3, width // heads, torch.float64)
    checks.append(
        check_piece(
            "rotary positions",
            {"q": q},
            {},
            lambda q: rotate(q, rotation),
            lambda q: rotate(q, rotation),
            lambda dy: {"q": rotate(dy, rotation, inverse=True)},  # Rᵀ: the angle undone
            generator,
        )
    )
    pool = layers.MeanPool()
    checks.append(
        check_piece(
            "mean pool",
            {"h": randn(batch, length, width)},
            {},
            lambda h: mean_pool(h, mask),
            lambda h: pool.forward(h, mask),
            lambda dy: {"h": pool.backward(dy)},
            generator,
        )
    )
    x, context = randn(batch, length, width), randn(batch, length + 2, width)
    for name, uses_context in (("self-attention", False), ("cross-attention", True)):
        module = AttentionModule(width, heads).double()
        module.fast = False  # the written-out `attend`, not PyTorch's fused kernel
        hand = hand_attention.MultiHeadAttention(module, dropout=None)
        inputs = {"x": x}
        seen = stack_masks(mask, length, causal=False)[0]  # (B, 1, 1, T)
        if uses_context:
            context_mask = torch.ones(batch, length + 2, dtype=torch.long)
            context_mask[0, -3:] = 0
            seen = stack_masks(mask, length, False, context_mask)[1]  # (B, 1, T, S)
            inputs["context"] = context

        def backward(dy, hand=hand, uses_context=uses_context):
            grads = {"x": hand.backward(dy)}
            if uses_context:
                grads["context"] = hand.context_grad
            return grads

        checks.append(
            check_piece(
                name,
                inputs,
                dict(module.named_parameters()),
                lambda x, context=None, module=module, seen=seen: module(x, context, seen),
                lambda x, context=None, hand=hand, seen=seen: hand.forward(x, context, seen),
                backward,
                generator,
            )
        )
    return checks


def cross_entropy_check(randn, generator) -> Check:
    """Cross-entropy with label smoothing 0.1, against `F.cross_entropy`."""
    logits, labels = randn(6, 11), torch.tensor([0, 3, 10, 3, 7, 1])
    loss = CrossEntropy()
    return check_piece(
        "cross-entropy (smoothing 0.1)",
        {"logits": logits},
        {},
        lambda logits: F.cross_entropy(logits, labels, label_smoothing=0.1),
        lambda logits: loss.forward(logits, labels, 0.1),
        lambda dy: {"logits": loss.backward() * dy},
        generator,
    )


MODELS = {  # name: (architecture, settings); each with padding and a fully padded row
    "encoder (mlm)": ("encoder", {}),
    "encoder, pairs (nsp)": ("encoder", {"sentence_pairs": True}),
    "enc-dec (seq2seq)": ("encoder-decoder", {}),
    "enc-dec, post-LN, relu, learned": (
        "encoder-decoder",
        {"norm": "post", "activation": "relu", "positional": "learned"},
    ),
    "enc-dec, dropout 0.1": ("encoder-decoder", {"dropout": 0.1}),
    "decoder (clm), no positions": ("decoder", {"positional": "none"}),
    "enc-dec, rope, pooled memory": ("encoder-decoder", {"positional": "rope", "memory": "pooled"}),
    "decoder, rope, no causal, no scale": (
        "decoder",
        {"positional": "rope", "causal_mask": False, "attention_scale": False},
    ),
}


def model_batch(architecture: str, sentence_pairs: bool, generator: torch.Generator) -> dict:
    """A small batch with padding, a fully padded row and labels that skip some positions."""
    rows, length, vocab = 3, 6, 13

    def ids(width: int) -> torch.Tensor:
        return torch.randint(5, vocab, (rows, width), generator=generator)

    mask = torch.ones(rows, length, dtype=torch.long)
    mask[1, 4:] = 0
    mask[2] = 0
    input_ids = ids(length)
    chosen = torch.rand(rows, length, generator=generator) < 0.5
    chosen[0, 0] = True
    batch = {
        "input_ids": input_ids,
        "attention_mask": mask,
        "labels": torch.where(chosen & (mask == 1), input_ids, -100),
    }
    if architecture == "encoder-decoder":
        decoder_mask = torch.ones(rows, 4, dtype=torch.long)
        decoder_mask[0, 2:] = 0
        batch["decoder_input_ids"] = ids(4)
        batch["decoder_attention_mask"] = decoder_mask
        batch["labels"] = torch.where(decoder_mask == 1, ids(4), -100)
    elif architecture == "decoder":
        batch["labels"] = torch.where(mask == 1, input_ids, -100)
    if sentence_pairs:
        batch["token_type_ids"] = (torch.arange(length) >= 3).long().expand(rows, -1)
        batch["next_sentence_label"] = torch.tensor([0, 1, 1])
    return batch


def model_checks(seed: int = 0) -> list[Check]:
    """Whole models of every architecture: the loss and every parameter's gradient."""
    return [model_check(name, *shape, seed=seed) for name, shape in MODELS.items()]


def model_check(
    name: str, architecture: str, settings: dict, seed: int = 0, label_smoothing: float = 0.1
) -> Check:
    """One model (d_model 8, 2 heads, 2 layers, d_ff 16, vocab 13, with `settings`) on
    `model_batch`: the hand-written loss and gradients against autograd's."""
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=13, d_model=8, heads=2, layers=2, d_ff=16, **settings)
    model = Transformer(config, architecture).double()
    batch = model_batch(architecture, config.sentence_pairs, torch.Generator().manual_seed(seed))
    parameters = dict(model.named_parameters())
    if config.dropout:  # the reference differentiates the hand forward, with the same masks
        reference = HandTransformer(model, generator=torch.Generator().manual_seed(seed))
        expected_loss = reference.forward(batch, label_smoothing).loss
    else:
        expected_loss = model(batch, label_smoothing=label_smoothing, logits=False).loss
    grads = torch.autograd.grad(expected_loss, list(parameters.values()), allow_unused=True)
    expected = {
        key: torch.zeros_like(p) if grad is None else grad
        for (key, p), grad in zip(parameters.items(), grads)
    }
    model.zero_grad(set_to_none=True)
    hand = HandTransformer(model, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        loss = hand.forward(batch, label_smoothing).loss
        hand.backward()
    found = {
        key: torch.zeros_like(p) if p.grad is None else p.grad for key, p in parameters.items()
    }
    shapes = " + ".join(
        size(batch[key]) for key in ("input_ids", "decoder_input_ids") if key in batch
    )
    return compare(name, shapes, (loss, expected_loss.detach()), found, expected)
