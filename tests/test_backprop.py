"""The hand-written backward passes (`models.backprop`) against autograd, in float64; the
hand-written AdamW against torch's; and training with them.

Each check can fail: the mutation tests at the end break one backward the way people break
it (the softmax's rowsum term, the tied head's second use, LayerNorm's paths through μ and
σ, gradient into masked keys) and see the checks catch it."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from models.backprop import attention as hand_attention
from models.backprop import layers
from models.backprop.gradcheck import (
    TOLERANCE,
    layer_checks,
    model_batch,
    model_check,
    model_checks,
)
from models.backprop.model import HandTransformer
from models.backprop.optim import AdamW, clip_grad_norm
from models.rope import rotate
from models.run_config import TrainConfig
from models.train import make_optimizer, train_loop
from models.transformer import ModelConfig, Transformer, build_model
from tests.cli_errors import one_line_error
from txdata import DataConfig, prepare
from txdata.collate import batch_generator

runner = CliRunner()


@pytest.mark.parametrize("seed", [0, 1])
def test_every_layer_matches_autograd(seed):
    checks = layer_checks(seed)
    assert len(checks) == 16
    for check in checks:
        assert check.relative <= TOLERANCE and check.output_difference <= TOLERANCE, check


@pytest.mark.parametrize("seed", [0, 1])
def test_whole_models_of_every_architecture_match_autograd(seed):
    for check in model_checks(seed):
        assert check.relative <= TOLERANCE and check.output_difference <= TOLERANCE, check


@settings(max_examples=25, deadline=None)
@given(
    architecture=st.sampled_from(["encoder", "encoder-decoder", "decoder"]),
    norm=st.sampled_from(["pre", "post"]),
    activation=st.sampled_from(["gelu", "relu"]),
    positional=st.sampled_from(["sinusoidal", "learned", "rope", "none"]),
    pooled=st.booleans(),
    causal_mask=st.booleans(),
    attention_scale=st.booleans(),
    dropout=st.sampled_from([0.0, 0.2]),
    pairs=st.booleans(),
    label_smoothing=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_any_model_matches_autograd(
    architecture,
    norm,
    activation,
    positional,
    pooled,
    causal_mask,
    attention_scale,
    dropout,
    pairs,
    label_smoothing,
    seed,
):
    settings_ = {"norm": norm, "activation": activation, "positional": positional}
    settings_ |= {"dropout": dropout, "sentence_pairs": pairs and architecture == "encoder"}
    # Each option where the architecture has a part for it (elsewhere it is refused).
    settings_["memory"] = "pooled" if pooled and architecture == "encoder-decoder" else "attention"
    settings_["causal_mask"] = causal_mask or architecture == "encoder"
    settings_["attention_scale"] = attention_scale
    check = model_check("any", architecture, settings_, seed, label_smoothing)
    assert check.relative <= TOLERANCE and check.output_difference <= TOLERANCE, check


def test_finite_differences_agree_with_the_hand_written_gradient():
    """A second opinion that trusts neither: (L(θ + h) − L(θ − h)) / 2h, coordinate by
    coordinate, on a tiny encoder-decoder in float64."""
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=13, d_model=8, heads=2, layers=1, d_ff=16)
    model = Transformer(config, "encoder-decoder").double()
    batch = model_batch("encoder-decoder", False, torch.Generator().manual_seed(0))
    hand = HandTransformer(model)
    with torch.no_grad():
        hand.forward(batch, 0.1)
        hand.backward()
    generator, h = torch.Generator().manual_seed(1), 1e-6
    for name, parameter in model.named_parameters():
        for _ in range(2):
            index = int(torch.randint(parameter.numel(), (1,), generator=generator))
            flat = parameter.data.view(-1)
            original = float(flat[index])
            with torch.no_grad():
                flat[index] = original + h
                above = float(hand.forward(batch, 0.1).loss)
                flat[index] = original - h
                below = float(hand.forward(batch, 0.1).loss)
                flat[index] = original
            numeric = (above - below) / (2 * h)
            assert float(parameter.grad.view(-1)[index]) == pytest.approx(
                numeric, rel=1e-5, abs=1e-8
            ), name


def attention_grads(backward_fix=None):
    """dK and dV of attention over a row whose last two keys are padding."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 4, 3, generator=generator, dtype=torch.float64) for _ in "qkv")
    allowed = torch.ones(2, 1, 4, 4, dtype=torch.bool)
    allowed[1, :, :, 2:] = False
    attention = hand_attention.ScaledDotProductAttention(dropout=None)
    attention.forward(q, k, v, allowed)
    _, dk, dv = attention.backward(
        torch.randn(2, 2, 4, 3, generator=generator, dtype=torch.float64)
    )
    return dk, dv


def test_no_gradient_reaches_masked_keys():
    dk, dv = attention_grads()
    assert dk[1, :, 2:].abs().max() == 0 and dv[1, :, 2:].abs().max() == 0
    assert dk[0, :, 2:].abs().max() > 0  # the unmasked row: they do get one


def test_the_tied_embedding_sums_the_gradients_of_both_uses():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=13, d_model=8, heads=2, d_ff=16), "decoder")
    model = model.double()
    batch = model_batch("decoder", False, torch.Generator().manual_seed(0))
    hand = HandTransformer(model)
    with torch.no_grad():
        hand.forward(batch)
        hand.backward()
        both = model.head.weight.grad.clone()
        model.zero_grad(set_to_none=True)
        hand.forward(batch)
        hand.head.backward(hand.token_loss.backward())
        head_only = model.head.weight.grad.clone()
    embedding_only = both - head_only
    assert head_only.abs().max() > 0 and embedding_only.abs().max() > 0
    assert model.head.weight is model.embeddings.tokens.weight


def test_adamw_by_hand_equals_torch_adamw():
    generator = torch.Generator().manual_seed(0)
    start = [torch.randn(4, 3, generator=generator, dtype=torch.float64) for _ in range(2)]
    ours = [torch.nn.Parameter(p.clone()) for p in start]
    theirs = [torch.nn.Parameter(p.clone()) for p in start]

    def groups(params):
        return [
            {"params": params[:1], "weight_decay": 0.1},
            {"params": params[1:], "weight_decay": 0.0},
        ]

    hand_optimizer = AdamW(groups(ours), lr=0.01)
    torch_optimizer = torch.optim.AdamW(groups(theirs), lr=0.01)
    for _ in range(30):
        grads = [torch.randn(4, 3, generator=generator, dtype=torch.float64) for _ in start]
        for params, optimizer in ((ours, hand_optimizer), (theirs, torch_optimizer)):
            for p, g in zip(params, grads):
                p.grad = g.clone()
            optimizer.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert torch.equal(hand_optimizer.state[ours[0]]["step"], torch.tensor(30.0))


@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clipping_by_hand_equals_torch(max_norm):
    generator = torch.Generator().manual_seed(0)
    grads = [torch.randn(5, generator=generator) for _ in range(3)]
    ours = [torch.nn.Parameter(torch.zeros(5)) for _ in grads]
    theirs = [torch.nn.Parameter(torch.zeros(5)) for _ in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = g.clone(), g.clone()
    norm = clip_grad_norm(ours, max_norm)
    assert float(norm) == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, max_norm)))
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p.grad, q.grad)


def model_and_batches(mode: str):
    """The default model for `mode` (seed 0), and its first 64 rows' batches by step."""
    data = prepare(DataConfig(mode))
    rows = data.examples[:64]
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=data.tokenizer.get_vocab_size())
    model = build_model(type(data.objective).architecture, config)
    return model, lambda step: data.objective.collate(rows, batch_generator(0, 0, step))


def trained(model, batch_at, backprop: str, steps: int):
    config = TrainConfig(steps=steps, backprop=backprop, eval_every=10**6, checkpoint_every=10**6)
    train_loop(model, make_optimizer(model, config), batch_at, config, torch.device("cpu"))
    return model


@pytest.mark.parametrize("mode", ["seq2seq", "mlm", "clm"])
def test_training_by_hand_follows_autograd_in_float32(mode, monkeypatch):
    """Same seed, same batches, dropout 0: after 10 steps the weights agree to 1e-4, a
    hundredth of how far training moved them. Float32 rounding differs between the two
    (sums in other orders), and Adam, which divides by √v, amplifies it where gradients
    are tiny; so they drift apart slowly, as two autograd runs on other hardware would."""
    start, batch_at = model_and_batches(mode)
    autograd = trained(copy.deepcopy(start), batch_at, "autograd", 10)

    def refuse(*args, **kwargs):
        raise AssertionError("autograd was called")

    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "backward", refuse)
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    manual = trained(copy.deepcopy(start), batch_at, "manual", 10)
    with torch.no_grad():
        moved = max((a - b).abs().max() for a, b in zip(autograd.parameters(), start.parameters()))
        apart = max((a - b).abs().max() for a, b in zip(autograd.parameters(), manual.parameters()))
    assert apart < 1e-4 and apart < moved / 100, (float(moved), float(apart))


def test_gradcheck_prints_every_check_and_passes():
    result = runner.invoke(app, ["gradcheck"])
    assert result.exit_code == 0, result.output
    for name in ("linear", "gelu", "cross-attention", "enc-dec (seq2seq)"):
        assert name in result.output
    assert "every gradient within 1e-08 of autograd's" in result.output


def test_backprop_must_be_autograd_or_manual():
    result = runner.invoke(app, ["train", "--backprop", "magic"])
    assert "backprop must be autograd or manual" in one_line_error(result)


def layer_norm_shortcut(self, dy):
    """LayerNorm's backward as if μ and σ were constants: a classic mistake."""
    normalized, sigma = self.saved
    layers.accumulate(self.weight, (dy * normalized).flatten(0, -2).sum(dim=0))
    layers.accumulate(self.bias, dy.flatten(0, -2).sum(dim=0))
    return dy * self.weight / sigma


def overwrite(parameter, grad):
    parameter.grad = grad.clone()


def rotate_the_same_way(x, rotation, inverse=False):
    """RoPE's backward turning the gradient forward again instead of back."""
    return rotate(x, rotation)


def mean_pool_onto_padding(self, dy):
    """The pooled memory's gradient spread over every position, padding included."""
    real, count = self.saved
    return (dy / count).expand(-1, real.shape[1], -1)


MUTATIONS = {
    "softmax without its rowsum term": (hand_attention, "softmax_backward", lambda dp, p: p * dp),
    "rope's backward turned by +angle": (hand_attention, "rotate", rotate_the_same_way),
    "pooled memory's gradient onto padding": (layers.MeanPool, "backward", mean_pool_onto_padding),
    "the tied weight overwritten, not summed": (layers, "accumulate", overwrite),
    "layer norm through neither μ nor σ": (layers.LayerNorm, "backward", layer_norm_shortcut),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_gradcheck_catches_a_broken_backward(mutation, monkeypatch):
    owner, name, broken = MUTATIONS[mutation]
    monkeypatch.setattr(owner, name, broken)
    result = runner.invoke(app, ["gradcheck"])
    assert "beyond 1e-08" in one_line_error(result)


def test_gradient_into_masked_keys_is_caught(monkeypatch):
    """dS = dP − rowsum(dP ⊙ P), the P ⊙ forgotten, sends gradient to keys no query saw."""
    monkeypatch.setattr(
        hand_attention,
        "softmax_backward",
        lambda dp, p: dp - (dp * p).sum(dim=-1, keepdim=True),
    )
    dk, _ = attention_grads()
    assert dk[1, :, 2:].abs().max() > 0  # the property test above would fail
