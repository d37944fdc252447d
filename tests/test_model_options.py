"""The model's options beside the paper's defaults: rotary positions, pooled memory, no causal
mask, no 1/√K. Each test also shows the property failing where the option is not in force."""

import dataclasses
import math

import pytest
import torch

from models.attention import MultiHeadAttention, attend, may_attend, padding_mask
from models.decode import greedy_continue, greedy_decode
from models.rope import rotate, rotation_at
from models.run_config import RunConfig
from models.transformer import ModelConfig, build_model
from tests.test_model import V, logits_both_ways, model, random_ids, seq2seq_batch
from txdata import DataConfig
from txdata.errors import ConfigError

BOS, NEVER = 5, -1


# Rotary positions


@pytest.mark.parametrize("offset", [1, 7, 300])
def test_rope_scores_depend_only_on_the_offset_between_positions(offset):
    """⟨R(i)q, R(j)k⟩ is a function of i − j: both moved by the same offset, the scores stay;
    one moved alone, they change."""
    generator = torch.Generator().manual_seed(0)
    q, k = (torch.randn(2, 3, 6, 8, generator=generator, dtype=torch.float64) for _ in "qk")
    positions = torch.arange(6)

    def scores(query_positions, key_positions):
        turned_q = rotate(q, rotation_at(query_positions, 8, torch.float64))
        turned_k = rotate(k, rotation_at(key_positions, 8, torch.float64))
        return turned_q @ turned_k.transpose(-2, -1)  # (B, H, T, T)

    at_start = scores(positions, positions)
    torch.testing.assert_close(scores(positions + offset, positions + offset), at_start)
    assert not torch.allclose(scores(positions + offset, positions), at_start, atol=1e-3)
    assert not torch.allclose(at_start, q @ k.transpose(-2, -1), atol=1e-3)  # it turns


@pytest.mark.parametrize(("positional", "shifts_nothing"), [("rope", True), ("sinusoidal", False)])
def test_a_rope_model_reads_positions_only_relative_to_each_other(positional, shifts_nothing):
    """Decoding the same tokens at positions 5 … 10 instead of 0 … 5: the same hidden states
    with rope, which adds no position vector; different ones with absolute positions."""
    m, ids = model("decoder", positional=positional), random_ids(2, 6)
    at_zero = m.decode(ids)
    shifted = m.decode(ids, positions=torch.arange(6).expand(2, -1) + 5)
    assert torch.allclose(at_zero, shifted, atol=1e-5) == shifts_nothing


@pytest.mark.parametrize(("positional", "turns"), [("rope", True), ("none", False)])
def test_rope_turns_self_attention_and_not_cross_attention(positional, turns):
    """Self-attention: with no positions an encoder's outputs permute with its input; rope
    gives it positions, so they do not. Cross-attention keys are encoder positions of another
    sequence, never turned: the decoder's output stays when the memory is shuffled together
    with its mask, as a set of keys."""
    m, batch = model("encoder-decoder", positional=positional), seq2seq_batch()
    ids, mask = batch["input_ids"], batch["attention_mask"]
    order = torch.tensor([6, 2, 0, 5, 1, 3, 4])
    memory = m.encode(ids, mask)  # (B, S, D)
    assert torch.allclose(m.encode(ids[:, order], mask), memory[:, order], atol=1e-5) != turns
    target, target_mask = batch["decoder_input_ids"], batch["decoder_attention_mask"]
    torch.testing.assert_close(
        m.decode(target, target_mask, memory, mask),
        m.decode(target, target_mask, memory[:, order], mask[:, order]),
    )


def test_rope_needs_an_even_head_width():
    with pytest.raises(ConfigError, match="head width d_model/heads must be even, not 3"):
        ModelConfig(vocab_size=V, d_model=12, heads=4, positional="rope")


# Pooled memory


def padded(batch, extra):
    """The batch with `extra` pad columns after the encoder's input."""
    rows = batch["input_ids"].shape[0]
    return {
        **batch,
        "input_ids": torch.cat([batch["input_ids"], torch.zeros(rows, extra, dtype=torch.long)], 1),
        "attention_mask": torch.cat(
            [batch["attention_mask"], torch.zeros(rows, extra, dtype=torch.long)], 1
        ),
    }


def test_pooled_memory_is_the_mean_of_real_positions():
    m, batch = model("encoder-decoder", memory="pooled"), seq2seq_batch()
    batch["attention_mask"][1, 4:] = 0
    memory, memory_mask = m.memory(batch["input_ids"], batch["attention_mask"])
    hidden = m.encode(batch["input_ids"], batch["attention_mask"])  # (B, S, D)
    assert memory.shape == (3, 1, 32) and memory_mask.tolist() == [[1], [1], [1]]
    torch.testing.assert_close(memory[1, 0], hidden[1, :4].mean(dim=0))
    assert not torch.allclose(memory[1, 0], hidden[1].mean(dim=0), atol=1e-4)  # pads count not


@pytest.mark.parametrize("memory", ["pooled", "attention"])
def test_pooled_decoder_reads_the_encoder_only_through_its_mean(memory, monkeypatch):
    """Two encoder outputs with the same mean over real positions: the same logits with pooled
    memory, different ones with attention over every position."""
    m, batch = model("encoder-decoder", memory=memory), seq2seq_batch()
    hidden = m.encode(batch["input_ids"], batch["attention_mask"])  # (B, S, D)
    outputs = []
    for encoded in (hidden, hidden.mean(dim=1, keepdim=True).expand_as(hidden)):
        monkeypatch.setattr(m, "encode", lambda *args, encoded=encoded: encoded)
        outputs.append(m(batch).logits)
    assert torch.allclose(*outputs, atol=1e-5) == (memory == "pooled")


def test_pooled_memory_ignores_the_order_of_encoder_positions_and_their_padding():
    """Without positions the encoder's outputs permute with its input, and their mean does
    not move; so the logits stay. (This catches a pooling that reads one position, the first
    or the last, or that counts pads.)"""
    m, batch = model("encoder-decoder", memory="pooled", positional="none"), seq2seq_batch()
    before = m(batch).logits
    order = torch.tensor([6, 2, 0, 5, 1, 3, 4])
    shuffled = {**batch, "input_ids": batch["input_ids"][:, order]}
    torch.testing.assert_close(m(shuffled).logits, before, rtol=0, atol=1e-5)
    for extra in (1, 5):
        torch.testing.assert_close(m(padded(batch, extra)).logits, before, rtol=0, atol=1e-5)
    changed = {**batch, "input_ids": batch["input_ids"].clone()}
    changed["input_ids"][:, 0] = (changed["input_ids"][:, 0] - 7 + 1) % (V - 7) + 7
    assert not torch.allclose(m(changed).logits, before, atol=1e-4)  # the source still counts


def test_pooled_memory_is_padding_free_with_positions_too():
    m, batch = model("encoder-decoder", memory="pooled", positional="rope"), seq2seq_batch()
    torch.testing.assert_close(m(padded(batch, 3)).logits, m(batch).logits, rtol=0, atol=1e-5)


@pytest.mark.parametrize("architecture", ["encoder", "decoder"])
def test_pooled_memory_is_refused_without_an_encoder_decoder(architecture):
    config = ModelConfig(vocab_size=V, memory="pooled")
    needs = f"memory pooled needs an encoder-decoder .* not {architecture}"
    with pytest.raises(ConfigError, match=needs):
        build_model(architecture, config)
    with pytest.raises(ConfigError, match="memory pooled needs an encoder-decoder objective"):
        RunConfig(DataConfig("mlm" if architecture == "encoder" else "clm"), config)


# No causal mask


def perturb_after(ids, position):
    changed = ids.clone()
    changed[:, position + 1 :] = (changed[:, position + 1 :] - 7 + 3) % (V - 7) + 7
    return changed


@pytest.mark.parametrize("architecture", ["encoder-decoder", "decoder"])
@pytest.mark.parametrize("causal_mask", [True, False])
def test_without_the_causal_mask_earlier_positions_see_later_tokens(architecture, causal_mask):
    m, batch = model(architecture, causal_mask=causal_mask), seq2seq_batch()
    key = "decoder_input_ids" if architecture == "encoder-decoder" else "input_ids"
    before = m(batch).logits
    after = m({**batch, key: perturb_after(batch[key], 2)}).logits
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6) == causal_mask
    assert not torch.allclose(before[:, 3:], after[:, 3:], atol=1e-3)


def test_without_the_causal_mask_padding_still_hides_pad_keys():
    m, batch = model("decoder", causal_mask=False), seq2seq_batch()
    batch["attention_mask"][:, 4:] = 0
    noisy = {**batch, "input_ids": perturb_after(batch["input_ids"], 3)}
    torch.testing.assert_close(m(noisy).logits[:, :4], m(batch).logits[:, :4])


def test_no_causal_mask_is_refused_for_an_encoder():
    with pytest.raises(ConfigError, match="causal_mask off needs a decoder"):
        build_model("encoder", ModelConfig(vocab_size=V, causal_mask=False))


# No 1/√K


def test_unscaled_attend_weights_are_the_softmax_of_raw_dot_products():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 4, 16, generator=generator) for _ in "qkv")
    allowed = may_attend(padding_mask(torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])))
    raw = (q @ k.transpose(-2, -1)).masked_fill(~allowed, float("-inf"))  # (B, H, T, L)
    _, weights = attend(q, k, v, allowed, scale=1.0)
    torch.testing.assert_close(weights, raw.softmax(dim=-1))
    _, scaled = attend(q, k, v, allowed)
    torch.testing.assert_close(scaled, (raw / math.sqrt(16)).softmax(dim=-1))
    assert scaled.max() < weights.max()  # unscaled, the softmax is the more peaked


@pytest.mark.parametrize("scaled", [True, False])
def test_multi_head_attention_scale_is_the_same_on_sdpa_and_the_written_out_path(scaled):
    torch.manual_seed(0)
    attention = MultiHeadAttention(32, 4, scaled=scaled).eval()
    x = torch.randn(2, 5, 32)
    allowed = may_attend(padding_mask(torch.tensor([[1] * 5, [1, 1, 1, 0, 0]])))
    attention.fast = True
    fast = attention(x, None, allowed)
    attention.fast, attention.keep_weights = False, True
    torch.testing.assert_close(attention(x, None, allowed), fast, rtol=0, atol=1e-5)
    q = attention._split(attention.q(x))  # (B, H, T, K)
    k = attention._split(attention.k(x))
    scores = (q @ k.transpose(-2, -1)) / (math.sqrt(8) if scaled else 1.0)
    expected = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    torch.testing.assert_close(attention.weights, expected)


# Every option, through the whole model and generation


OPTIONS = {
    "rope": {"positional": "rope"},
    "pooled": {"memory": "pooled"},
    "rope, pooled, unscaled": {"positional": "rope", "memory": "pooled", "attention_scale": False},
    "no causal mask": {"causal_mask": False},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
def test_sdpa_equals_the_written_out_path_with_every_option(options):
    m, batch = model("encoder-decoder", **options), seq2seq_batch()
    batch["attention_mask"][0, 4:] = 0
    batch["decoder_attention_mask"][1, 3:] = 0
    torch.testing.assert_close(*logits_both_ways(m, batch), rtol=0, atol=1e-5)


def step_logits(m, generate) -> tuple[list[list[int]], torch.Tensor]:
    """The tokens `generate()` makes and the logits (B, steps, V) it chose them from."""
    steps = []
    hook = m.head.register_forward_hook(lambda module, args, output: steps.append(output))
    try:
        made = generate()
    finally:
        hook.remove()
    return made, torch.stack(steps, dim=1)


@pytest.mark.parametrize("options", [o for o in OPTIONS.values() if o.get("causal_mask", True)])
def test_generation_scores_as_the_forward_pass_with_every_option(options):
    """Generation and training read the same model: with rope (positions by the cache) and
    pooled memory (`Transformer.memory`, in both), the logits of each generation step, cached
    or not, are those of the teacher-forced forward pass on the tokens before it."""
    m = model("encoder-decoder", **options)
    ids = random_ids(3, 7)
    mask = torch.ones_like(ids)
    mask[1, 4:] = 0
    made, cached = step_logits(m, lambda: greedy_decode(m, ids, mask, BOS, NEVER, 8))
    _, uncached = step_logits(
        m, lambda: greedy_decode(m, ids, mask, BOS, NEVER, 8, use_cache=False)
    )
    decoder_input = torch.tensor([[BOS, *row[:-1]] for row in made])
    batch = {"input_ids": ids, "attention_mask": mask, "decoder_input_ids": decoder_input}
    torch.testing.assert_close(cached, m(batch).logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(uncached, cached, rtol=0, atol=1e-5)


def test_rope_continues_left_padded_prompts_as_each_alone():
    """Prompts of 5, 2 and 4 tokens in one batch (left-aligned inside `greedy_continue`):
    every step's logits equal the row's own, cached or not."""
    m = model("decoder", positional="rope")
    ids = random_ids(3, 5)
    mask = (torch.arange(5) < torch.tensor([[5], [2], [4]])).long()
    ids = ids * mask
    _, cached = step_logits(m, lambda: greedy_continue(m, ids, mask, NEVER, 6))
    _, uncached = step_logits(m, lambda: greedy_continue(m, ids, mask, NEVER, 6, False))
    torch.testing.assert_close(uncached, cached, rtol=0, atol=1e-5)
    for row, length in enumerate((5, 2, 4)):
        alone = ids[row : row + 1, :length]
        _, logits = step_logits(
            m, lambda a=alone: greedy_continue(m, a, torch.ones_like(a), NEVER, 6)
        )
        torch.testing.assert_close(cached[row], logits[0], rtol=0, atol=1e-5)


def test_no_causal_mask_decodes_causally_with_the_cache():
    """A model without its causal mask still generates one token at a time: with the cache,
    each step's keys are cached before later tokens exist, so earlier hidden states never see
    them. The teacher-forced pass, which does, disagrees."""
    m, ids = model("decoder", causal_mask=False), random_ids(3, 1)  # one-token prompts
    made = greedy_continue(m, ids, torch.ones_like(ids), NEVER, 8)
    causal = model("decoder")  # the same weights (same seed), with the causal mask
    assert made == greedy_continue(causal, ids, torch.ones_like(ids), NEVER, 8)
    read = torch.cat([ids, torch.tensor(made)[:, :-1]], dim=1)  # (B, 8)
    forward = m({"input_ids": read, "attention_mask": torch.ones_like(read)}).logits
    assert forward.argmax(dim=-1).tolist() != made


def test_run_configs_saved_before_these_options_load_with_the_old_behaviour():
    raw = {"data": dataclasses.asdict(DataConfig("seq2seq")), "model": {"d_model": 16}}
    raw["model"]["heads"] = 2
    config = RunConfig.from_dict(raw).model
    assert (config.positional, config.memory) == ("sinusoidal", "attention")
    assert config.causal_mask and config.attention_scale
    raw["model"]["memory"] = "bogus"
    with pytest.raises(ConfigError, match="memory must be one of attention, pooled"):
        RunConfig.from_dict(raw)
