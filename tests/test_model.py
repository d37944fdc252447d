"""The transformer core: no leakage, right mask axes, padding that changes nothing, finite maths."""

import pytest
import torch
from torch import nn

from models.attention import MultiHeadAttention, causal_mask, may_attend, padding_mask
from models.transformer import ARCHITECTURES, LMHead, ModelConfig, build_model, lm_loss
from txdata.errors import ConfigError

V = 20


def model(architecture: str, **options):
    """A tiny model of an architecture ("encoder", "encoder-decoder", "decoder") or a mode."""
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=V, d_model=32, heads=4, layers=2, d_ff=64, **options)
    return build_model(architecture, config).eval()


def random_ids(*shape, generator_seed=1):
    return torch.randint(7, V, shape, generator=torch.Generator().manual_seed(generator_seed))


def seq2seq_batch(b=3, s=7, t=6):
    """Every key any architecture reads; each reads its own (decoder-only: input_ids)."""
    return {
        "input_ids": random_ids(b, s),
        "attention_mask": torch.ones(b, s, dtype=torch.long),
        "decoder_input_ids": random_ids(b, t, generator_seed=2),
        "decoder_attention_mask": torch.ones(b, t, dtype=torch.long),
    }


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("position", [0, 2, 4])
def test_decoder_never_sees_future_tokens(norm, position):
    m, batch = model("encoder-decoder", norm=norm), seq2seq_batch()
    before = m(batch).logits
    perturbed = dict(batch)
    perturbed["decoder_input_ids"] = batch["decoder_input_ids"].clone()
    perturbed["decoder_input_ids"][:, position + 1 :] = random_ids(
        3, 5 - position, generator_seed=9
    )
    after = m(perturbed).logits
    assert torch.allclose(before[:, : position + 1], after[:, : position + 1], atol=1e-6)
    assert not torch.allclose(before[:, position + 1 :], after[:, position + 1 :], atol=1e-3)


def test_mlm_encoder_sees_both_sides():
    m = model("encoder")
    ids = random_ids(2, 8)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    changed = {**batch, "input_ids": ids.clone()}
    changed["input_ids"][:, -1] = (ids[:, -1] - 7 + 1) % (V - 7) + 7
    assert not torch.allclose(m(batch).logits[:, 0], m(changed).logits[:, 0], atol=1e-4)


def labelled_target(architecture, batch):
    """What each architecture's labels align with: the decoder's input for encoder-decoder,
    else the input ids (decoder-only shifts them inside the model)."""
    return batch["decoder_input_ids"] if architecture == "encoder-decoder" else batch["input_ids"]


def pad_columns(ids, mask, extra, pad=0):
    return (
        torch.cat([ids, torch.full((ids.shape[0], extra), pad)], dim=1),
        torch.cat([mask, torch.zeros(mask.shape[0], extra, dtype=torch.long)], dim=1),
    )


def test_seq2seq_padding_changes_no_real_logit():
    m, batch = model("encoder-decoder"), seq2seq_batch()
    before = m(batch).logits
    padded = dict(batch)
    padded["input_ids"], padded["attention_mask"] = pad_columns(
        batch["input_ids"], batch["attention_mask"], 4
    )
    padded["decoder_input_ids"], padded["decoder_attention_mask"] = pad_columns(
        batch["decoder_input_ids"], batch["decoder_attention_mask"], 3
    )
    after = m(padded).logits
    assert torch.allclose(before, after[:, :6], atol=1e-5)
    # What sits under encoder padding is never read either.
    noisy = {**padded, "input_ids": padded["input_ids"].clone()}
    noisy["input_ids"][:, 7:] = random_ids(3, 4, generator_seed=5)
    assert torch.allclose(m(noisy).logits[:, :6], before, atol=1e-5)


def test_mlm_padding_changes_no_real_logit():
    m = model("encoder")
    ids = random_ids(2, 8)
    before = m({"input_ids": ids, "attention_mask": torch.ones_like(ids)}).logits
    padded_ids, padded_mask = pad_columns(ids, torch.ones_like(ids), 5)
    after = m({"input_ids": padded_ids, "attention_mask": padded_mask}).logits
    assert torch.allclose(before, after[:, :8], atol=1e-5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_fully_padded_rows_and_length_one_inputs_stay_finite(architecture):
    m = model(architecture)
    for length in (1, 5):
        batch = seq2seq_batch(b=2, s=length, t=length)
        batch["attention_mask"][1] = 0
        batch["decoder_attention_mask"][1] = 0
        assert torch.isfinite(m(batch).logits).all()


def test_loss_ignores_positions_labelled_minus_100():
    logits = torch.randn(2, 5, V)
    labels = torch.tensor([[8, -100, 9, -100, 10], [-100, -100, 11, 12, -100]])
    changed = logits.clone()
    changed[labels == -100] = torch.randn(int((labels == -100).sum()), V) * 50
    assert torch.equal(lm_loss(logits, labels), lm_loss(changed, labels))
    changed[0, 0, 8] += 1.0  # the logit of a real label
    assert not torch.equal(lm_loss(logits, labels), lm_loss(changed, labels))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rope"])
def test_every_parameter_receives_a_gradient(architecture, positional):
    m = model(architecture, positional=positional).train()
    batch = seq2seq_batch()
    m({**batch, "labels": labelled_target(architecture, batch)}).loss.backward()
    for name, parameter in m.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_loss_only_gives_the_full_logits_loss_and_gradients(
    architecture, label_smoothing, monkeypatch
):
    """Training asks for the loss only: the head then runs at the labelled positions alone, a
    few rows at a time. The loss and every gradient must match the full logits' to float error."""
    monkeypatch.setattr(LMHead, "chunk_rows", 4)  # several chunks, the last one short
    batch = seq2seq_batch()
    target = labelled_target(architecture, batch)
    unlabelled = torch.rand(target.shape, generator=torch.Generator().manual_seed(3)) < 0.4
    batch["labels"] = target.masked_fill(unlabelled, -100)
    assert 4 < int((~unlabelled).sum()) < target.numel()
    results = []
    for logits in (True, False):
        m = model(architecture)
        output = m(batch, label_smoothing=label_smoothing, logits=logits)
        output.loss.backward()
        results.append((output, {name: p.grad for name, p in m.named_parameters()}))
    (full, full_grads), (loss_only, loss_only_grads) = results
    assert full.logits.shape == (*target.shape, V) and loss_only.logits is None
    torch.testing.assert_close(loss_only.loss, full.loss, rtol=1e-6, atol=1e-7)
    for name, gradient in full_grads.items():
        torch.testing.assert_close(loss_only_grads[name], gradient, rtol=1e-5, atol=1e-7)


def test_written_out_attention_equals_sdpa_and_torch_multihead_attention():
    torch.manual_seed(0)
    attention = MultiHeadAttention(32, 4).eval()
    x, context = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    key_mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    allowed = may_attend(padding_mask(key_mask))  # (2, 1, 1, 7)
    attention.fast = True
    fast = attention(x, context, allowed)
    attention.fast = False
    manual = attention(x, context, allowed)
    assert torch.allclose(fast, manual, atol=1e-6)

    reference = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    with torch.no_grad():
        reference.in_proj_weight.copy_(
            torch.cat([attention.q.weight, attention.k.weight, attention.v.weight])
        )
        reference.in_proj_bias.copy_(
            torch.cat([attention.q.bias, attention.k.bias, attention.v.bias])
        )
        reference.out_proj.weight.copy_(attention.out.weight)
        reference.out_proj.bias.copy_(attention.out.bias)
    expected, _ = reference(x, context, context, key_padding_mask=key_mask == 0)
    assert torch.allclose(manual, expected, atol=1e-6)

    causal = may_attend(padding_mask(torch.ones(2, 5, dtype=torch.long)), causal_mask(5))
    attention.fast = False
    expected, _ = reference(x, x, x, attn_mask=~causal_mask(5))
    assert torch.allclose(attention(x, None, causal), expected, atol=1e-6)

    # Causal self-attention over padded rows, one of them all padding: fast equals manual.
    padded = may_attend(padding_mask(torch.tensor([[1, 1, 1, 0, 0], [0] * 5])), causal_mask(5))
    manual = attention(x, None, padded)
    attention.fast = True
    assert torch.allclose(attention(x, None, padded), manual, atol=1e-6)
    assert torch.isfinite(manual).all()


@pytest.mark.parametrize(
    ("mode", "count", "stacks"),
    [("encoder-decoder", 91, ["encoder", "decoder"]), ("encoder", 37, ["encoder"])],
)
def test_weight_names_of_saved_runs_are_kept(mode, count, stacks):
    """Run directories saved before the one `Transformer` composition must load unchanged:
    the same 91 (seq2seq) and 37 (mlm) names, in the same order, at 2 layers."""
    names = list(model(mode).state_dict())
    assert len(names) == count
    assert list(dict.fromkeys(name.split(".")[0] for name in names)) == [
        "embeddings",
        *stacks,
        "head",
    ]
    assert names[1] == "encoder.blocks.0.self_attention.q.weight"
    assert names[-3:] == [f"{stacks[-1]}.final_norm.bias", "head.weight", "head.bias"]
    has_cross = any(".cross_attention." in name for name in names)
    assert has_cross == (mode == "encoder-decoder")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_written_out_attention_equals_sdpa_in_a_padded_model(architecture):
    """Causal self-attention with padding (decoder), cross-attention, and padded encoder rows,
    a fully padded row among them: the manual path and SDPA give the same logits."""
    m, batch = model(architecture), seq2seq_batch()
    batch["attention_mask"][0, 4:] = 0
    batch["attention_mask"][2] = 0
    batch["decoder_attention_mask"][1, 3:] = 0
    fast, written_out = logits_both_ways(m, batch)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, written_out, rtol=0, atol=1e-5)


def logits_both_ways(m, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """`m`'s logits with SDPA, then with the written-out attention."""
    outputs = []
    for fast in (True, False):
        for module in m.modules():
            if isinstance(module, MultiHeadAttention):
                module.fast = fast
        outputs.append(m(batch).logits)
    return outputs[0], outputs[1]


def test_masks_are_what_they_say():
    assert causal_mask(3).tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, True],
    ]
    allowed = may_attend(padding_mask(torch.tensor([[1, 1, 0], [0, 0, 0]])), causal_mask(3))
    assert allowed[0, 0].tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, False],
    ]
    assert allowed[1, 0].all(), "a fully padded row may see everything rather than nothing"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"d_model": 30, "heads": 4}, "d_model 30 is not divisible by 4 heads"),
        ({"positional": "rotary"}, "positional must be one of"),
        ({"norm": "middle"}, "norm must be one of"),
        ({"memory": "bogus"}, "memory must be one of attention, pooled"),
    ],
)
def test_bad_model_configs_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(vocab_size=V, **options)
