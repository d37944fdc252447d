"""Greedy generation: the key/value cache changes no token, and padding changes no row."""

import pytest
import torch

from models.decode import greedy_continue, greedy_decode
from models.transformer import Embeddings, ModelConfig, build_model
from txdata.errors import ConfigError

V, BOS, EOS, NEVER = 30, 5, 6, -1


def model(architecture: str, **options):
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=V, d_model=32, heads=4, layers=2, d_ff=64, **options)
    return build_model(architecture, config).eval()


def ragged(b=4, length=9):
    """Rows of 9, 5, 2 and 7 real tokens, padded on the right as every batch here is."""
    ids = torch.randint(7, V, (b, length), generator=torch.Generator().manual_seed(1))
    mask = (torch.arange(length) < torch.tensor([[9], [5], [2], [7]])).long()
    return ids.masked_fill(mask == 0, 0), mask


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rope"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_seq2seq_cache_changes_no_token(positional, norm):
    m, (ids, mask) = model("encoder-decoder", positional=positional, norm=norm), ragged()
    cached = greedy_decode(m, ids, mask, BOS, NEVER, 16)
    assert cached == greedy_decode(m, ids, mask, BOS, NEVER, 16, use_cache=False)
    assert all(len(row) == 16 for row in cached)
    assert len({tuple(row) for row in cached}) > 1  # the rows read different sources


@pytest.mark.parametrize("positional", ["sinusoidal", "learned", "rope"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_decoder_only_cache_changes_no_token_and_padding_changes_no_row(positional, norm):
    m, (ids, mask) = model("decoder", positional=positional, norm=norm), ragged()
    cached = greedy_continue(m, ids, mask, NEVER, 16)
    assert cached == greedy_continue(m, ids, mask, NEVER, 16, use_cache=False)
    for row, real in enumerate(mask.sum(dim=1).tolist()):
        alone = ids[row : row + 1, :real]
        assert greedy_continue(m, alone, torch.ones_like(alone), NEVER, 16) == [cached[row]]


@pytest.mark.parametrize("architecture", ["encoder-decoder", "decoder"])
def test_a_cached_step_reads_one_new_position(architecture, monkeypatch):
    m, (ids, mask) = model(architecture), ragged()
    widths, forward = [], Embeddings.forward

    def spy(self, ids, *args, **kwargs):
        widths.append(ids.shape[1])
        return forward(self, ids, *args, **kwargs)

    monkeypatch.setattr(Embeddings, "forward", spy)
    projections = []
    for block in m.decoder.blocks:
        if block.cross_attention is not None:
            block.cross_attention.k.register_forward_hook(lambda *_: projections.append(1))
    if architecture == "encoder-decoder":
        greedy_decode(m, ids, mask, BOS, NEVER, 10)
        assert widths == [9] + [1] * 10  # the encoder, then one decoder position a step
        assert len(projections) == 2  # the memory's keys, once per layer
    else:
        greedy_continue(m, ids, mask, NEVER, 10)
        assert widths == [9] + [1] * 9  # the prompt, then each new token


def test_generation_stops_at_eos_per_row():
    m, (ids, mask) = model("decoder", positional="learned"), ragged()
    free = greedy_continue(m, ids, mask, NEVER, 12)
    eos = free[0][3]
    stopped = greedy_continue(m, ids, mask, eos, 12)
    for before, after in zip(free, stopped):
        expected = before[: before.index(eos) + 1] if eos in before else before
        assert after == expected


def test_generating_past_max_len_is_refused():
    m, (ids, mask) = model("decoder", max_len=12), ragged()
    with pytest.raises(ConfigError, match="exceeds max_len 12"):
        greedy_continue(m, ids, mask, NEVER, 8)


@pytest.mark.parametrize("architecture", ["encoder-decoder", "decoder"])
def test_each_generated_token_is_the_forward_pass_argmax(architecture):
    """Generation agrees with the training forward pass (right padding, positions 0 … T-1):
    fed its own output teacher-forced, the model's argmax at each step is the token made."""
    m, (ids, mask) = model(architecture, positional="learned"), ragged()
    for row, real in enumerate(mask.sum(dim=1).tolist()):
        if architecture == "encoder-decoder":
            made = greedy_decode(m, ids, mask, BOS, NEVER, 12)[row]
            batch = {
                "input_ids": ids[row : row + 1],
                "attention_mask": mask[row : row + 1],
                "decoder_input_ids": torch.tensor([[BOS, *made[:-1]]]),
            }
            predicted = m(batch).logits.argmax(dim=-1)[0]
        else:
            made = greedy_continue(m, ids, mask, NEVER, 12)[row]
            read = torch.tensor([[*ids[row, :real].tolist(), *made[:-1]]])
            logits = m({"input_ids": read, "attention_mask": torch.ones_like(read)}).logits
            predicted = logits.argmax(dim=-1)[0, real - 1 :]
        assert predicted.tolist() == made
