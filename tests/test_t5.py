"""t5: T5's span corruption. Exact noise and span counts, sentinels in order, inputs and labels
that interleave back into the original chunk, and packed inputs of exactly `length` tokens."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from tests.stand_ins import Texts
from txdata import DataConfig, SourceConfig, prepare
from txdata.collate import batch_generator
from txdata.errors import ConfigError
from txdata.objectives.mlm import MaskedLM
from txdata.objectives.t5 import (
    SpanCorruption,
    SpanCorruptionOptions,
    random_segmentation,
    random_spans_noise_mask,
    span_corruption_lengths,
)
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.tokenizer import alternating_tokenizer

WORDS = [f"w{i}" for i in range(20)]
densities = st.floats(0.01, 0.99)
means = st.floats(1.0, 8.0)
documents = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=40), min_size=1, max_size=8
)


def objective(length, options=None, multiple=None):
    """A t5 objective over the words w0 … w19, its sentinels added as `prepare` adds them."""
    tokenizer = alternating_tokenizer(" ".join(WORDS))
    options = options or SpanCorruptionOptions()
    tokenizer.add_special_tokens(SpanCorruption.extra_special_tokens(length, options))
    return SpanCorruption(tokenizer, length, options, multiple)


def expected_counts(length, density, mean):
    """The spec, written out: noise round(L·d) in [1, L − 1]; spans max(1, round(noise/mean)),
    no more than the dropped or kept tokens can fill."""
    noise = min(max(round(length * density), 1), length - 1)
    return noise, min(max(1, round(noise / mean)), noise, length - noise)


def runs(flags):
    """The lengths of the runs of equal values: [F, F, T, F] -> [(False, 2), (True, 1), …]."""
    found = []
    for flag in flags:
        if found and found[-1][0] == flag:
            found[-1][1] += 1
        else:
            found.append([flag, 1])
    return [tuple(run) for run in found]


def sentinel_ids(tokenizer):
    found, i = [], 0
    while (id_ := tokenizer.token_to_id(f"<extra_id_{i}>")) is not None:
        found.append(id_)
        i += 1
    return found


def reconstruct(inputs, labels, sentinels):
    """Put each span of the labels back where its sentinel stands in the inputs."""
    spans, current = {}, None
    for token in labels[:-1]:
        if token in sentinels:
            current = spans.setdefault(token, [])
        else:
            current.append(token)
    return [t for token in inputs[:-1] for t in (spans[token] if token in sentinels else [token])]


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(2, 300), min_size=1, max_size=6),
    density=densities,
    mean=means,
    seed=st.integers(0, 2**32),
)
def test_noise_and_span_counts_are_exact_for_every_length(lengths, density, mean, seed):
    mask = random_spans_noise_mask(lengths, density, mean, torch.Generator().manual_seed(seed))
    assert mask.shape == (len(lengths), max(lengths))
    for row, length in zip(mask.tolist(), lengths):
        noise, spans = expected_counts(length, density, mean)
        assert not any(row[length:])
        found = runs(row[:length])
        # kept, dropped, kept, …, dropped: as many kept runs as dropped ones, kept first
        assert [flag for flag, _ in found] == [False, True] * spans
        assert sum(n for flag, n in found if flag) == noise


def test_a_row_of_one_token_drops_nothing():
    mask = random_spans_noise_mask([1, 4], 0.15, 3.0, torch.Generator().manual_seed(0))
    assert mask.tolist() == [[False, False, False, False], [False, False, False, True]]


@settings(max_examples=100, deadline=None)
@given(
    totals=st.lists(st.integers(1, 50), min_size=1, max_size=6),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_random_segmentation_gives_positive_parts_that_sum_to_the_total(totals, data, seed):
    parts = [data.draw(st.integers(1, total)) for total in totals]
    lengths = random_segmentation(
        np.array(totals), np.array(parts), torch.Generator().manual_seed(seed)
    ).tolist()
    for row, total, count in zip(lengths, totals, parts):
        assert all(n > 0 for n in row[:count]) and not any(row[count:])
        assert sum(row) == total


def test_random_segmentation_draws_every_split():
    seen = {
        tuple(
            random_segmentation(np.array([5]), np.array([3]), torch.Generator().manual_seed(seed))[
                0
            ].tolist()
        )
        for seed in range(200)
    }
    assert len(seen) == 6  # the C(4, 2) ways to cut 5 into 3 positive parts


@settings(max_examples=100, deadline=None)
@given(
    docs=documents,
    length=st.integers(3, 40),
    density=densities,
    mean=means,
    seed=st.integers(0, 2**32),
)
def test_inputs_and_labels_interleave_back_into_the_chunk_with_sentinels_in_order(
    docs, length, density, mean, seed
):
    t5 = objective(length, SpanCorruptionOptions(density, mean))
    rows = t5.examples(Texts.of_words(docs))[:]
    batch = t5.collate(rows, torch.Generator().manual_seed(seed))
    sentinels = sentinel_ids(t5.tokenizer)
    eos = t5.special.eos
    for chunk, ids, mask, labels in zip(
        rows["input_ids"], batch["input_ids"], batch["attention_mask"], batch["labels"]
    ):
        inputs = ids[mask == 1].tolist()
        targets = labels[labels != IGNORE_INDEX].tolist()
        noise, spans = expected_counts(len(chunk), density, mean) if len(chunk) > 1 else (0, 0)
        order = sentinels[:spans]
        assert [t for t in inputs if t in sentinels] == order  # <extra_id_0>, <extra_id_1>, …
        assert [t for t in targets if t in sentinels] == order
        assert targets[0] == order[0] if spans else targets == [eos]
        assert inputs[-1] == eos and targets[-1] == eos
        assert eos not in inputs[:-1] + targets[:-1]
        assert len(targets) == noise + spans + 1
        assert reconstruct(inputs, targets, set(sentinels)) == chunk
        assert t5.reconstruct(inputs, targets) == chunk  # what `predict` prints


@settings(max_examples=100, deadline=None)
@given(docs=documents, length=st.integers(3, 40), density=densities, mean=means)
def test_packing_fills_the_inputs_to_exactly_length_and_loses_nothing(docs, length, density, mean):
    options = SpanCorruptionOptions(density, mean)
    t5 = objective(length, options)
    rows = t5.examples(Texts.of_words(docs))["input_ids"]
    chunk, targets = span_corruption_lengths(length, density, mean)
    assert all(len(row) == chunk for row in rows[:-1]) and 1 <= len(rows[-1]) <= chunk
    # No separator between documents: T5 packs them as they are.
    assert [t for row in rows for t in row] == [
        t5.tokenizer.token_to_id(w) for doc in docs for w in doc
    ]
    batch = t5.collate({"input_ids": rows}, torch.Generator().manual_seed(0))
    full = batch["attention_mask"].sum(dim=1)[: len(rows) - 1]
    # Exact in T5's regime; above 0.5, a raw token more may add two input tokens.
    assert (full == length).all() if density < 0.5 else (full >= length - 1).all()
    assert (batch["decoder_attention_mask"].sum(dim=1)[: len(rows) - 1] == targets).all()
    assert batch["input_ids"].shape[1] <= length


def t5_random_spans_helper(inputs_length, density, mean):
    """T5's own loop, transcribed, with the clamps of its noise mask."""

    def lengths(tokens):
        noise, spans = expected_counts(tokens, density, mean)
        return tokens - noise + spans + 1, noise + spans + 1

    tokens = inputs_length - 1
    while lengths(tokens + 1)[0] <= inputs_length:
        tokens += 1
    return tokens, lengths(tokens)[1]


def test_raw_chunk_lengths_are_t5s():
    assert span_corruption_lengths(512) == (568, 114)
    assert span_corruption_lengths(128) == (141, 29)


@settings(max_examples=200, deadline=None)
@given(inputs_length=st.integers(3, 600), density=densities, mean=means)
def test_raw_chunk_lengths_match_t5s_loop(inputs_length, density, mean):
    found = span_corruption_lengths(inputs_length, density, mean)
    assert found == t5_random_spans_helper(inputs_length, density, mean)


def test_spans_depend_only_on_the_generator():
    t5 = objective(40)
    rows = t5.examples(Texts.of_words([WORDS * 10]))[:]
    first, again = (t5.collate(rows, batch_generator(3, 1, 2)) for _ in range(2))
    other = t5.collate(rows, batch_generator(3, 1, 3))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["input_ids"], other["input_ids"])


def test_the_decoder_reads_the_labels_shifted_right_behind_bos():
    t5 = objective(24, multiple=8)
    batch = t5.collate(
        t5.examples(Texts.of_words([WORDS * 3]))[:], torch.Generator().manual_seed(0)
    )
    labels, decoder = batch["labels"], batch["decoder_input_ids"]
    assert (decoder[:, 0] == t5.special.bos).all()
    real = batch["decoder_attention_mask"][:, 1:] == 1
    assert torch.equal(decoder[:, 1:][real], labels[:, :-1][real])
    assert batch["input_ids"].shape[1] % 8 == 0 and labels.shape[1] % 8 == 0


def test_each_alternating_window_is_a_row_whose_inputs_fit_length():
    data = prepare(DataConfig("t5", SourceConfig(count=32), length=12))
    rows = data.examples["input_ids"]
    assert len(rows) == 32 and all(len(row) == 11 for row in rows)
    batch = data.batches(32, seed=0)[0]
    assert batch["input_ids"].shape[1] <= 12
    assert data.tokenizer.token_to_id("<extra_id_0>") == 9  # after the specials and "0", "1"


def test_sentinels_join_the_tokenizer_as_many_as_a_row_needs_and_mlm_never_draws_them():
    assert SpanCorruption.extra_special_tokens(512, SpanCorruptionOptions()) == [
        f"<extra_id_{i}>" for i in range(28)
    ]
    data = prepare(DataConfig("t5", SourceConfig("sample:english"), length=64))
    sentinels = sentinel_ids(data.tokenizer)
    assert len(sentinels) == 3 and sentinels == list(range(sentinels[0], sentinels[0] + 3))
    mlm = MaskedLM(data.tokenizer, 64)
    assert not set(sentinels) & set(mlm.random_ids.tolist())


def test_options_are_checked():
    for bad in ({"noise_density": 0.0}, {"noise_density": 1.0}, {"mean_span_length": 0.5}):
        with pytest.raises(ConfigError):
            SpanCorruptionOptions(**bad)
    with pytest.raises(ConfigError, match="sentinels"):
        SpanCorruption(alternating_tokenizer("1 0"), 12)


def test_predict_frames_the_users_sentinels_then_eos():
    t5 = objective(12)
    ids = t5.tokenizer.encode("w1 w0 <extra_id_0> w0 w1", add_special_tokens=False).ids
    frame = t5.frame(ids)["input_ids"][0].tolist()
    special = SpecialIds.of(t5.tokenizer)
    assert frame == [*ids, special.eos] and t5.tokenizer.token_to_id("<extra_id_0>") in frame


def test_a_sentinel_the_output_never_wrote_stays_in_the_reconstruction():
    t5 = objective(40)
    tokens = t5.tokenizer.token_to_id
    w0, w1, s0, s1, eos = (tokens(t) for t in ("w0", "w1", "<extra_id_0>", "<extra_id_1>", "[EOS]"))
    # The output fills span 0, then ends: span 1 stays a visible gap; after [EOS], nothing.
    assert t5.reconstruct([w1, s0, w1, s1, eos], [s0, w0, w0, eos, s1, w1]) == [w1, w0, w0, w1, s1]
    # Tokens the output wrote before any sentinel belong to no span.
    assert t5.reconstruct([w1, s0, eos], [w0, s0, w1, eos]) == [w1, w1]


def test_predict_prints_the_spans_with_their_sentinels_and_the_restored_input(tmp_path):
    run = tmp_path / "t5"
    trained = CliRunner().invoke(app, ["train", "--mode", "t5", "--steps", "20", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    text = "1 0 1 <extra_id_0> 0 1 0"
    result = CliRunner().invoke(app, ["predict", text, "--run", str(run), "--format", "json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    t5 = prepare(DataConfig(objective="t5")).objective
    encode = t5.tokenizer.encode
    output = encode(found["output"], add_special_tokens=False).ids
    restored = t5.reconstruct(encode(text, add_special_tokens=False).ids, output)
    assert "[EOS]" not in found["output"]
    assert found["reconstruction"] == t5.tokenizer.decode(restored, skip_special_tokens=False)


def test_show_prints_sentinels_in_the_inputs_and_the_labels():
    result = CliRunner().invoke(app, ["show", "--mode", "t5", "--format", "json"])
    assert result.exit_code == 0, result.output
    tokens = json.loads(result.stdout)["tokens"]
    # The module docstring's example: one span, at the end (T5 alternates kept first).
    assert tokens["input_ids"][0] == [
        "1",
        "0",
        "1",
        "0",
        "1",
        "0",
        "1",
        "0",
        "1",
        "<extra_id_0>",
        "[EOS]",
    ]
    assert tokens["labels"][0] == ["<extra_id_0>", "0", "1", "[EOS]"]
    assert tokens["decoder_input_ids"][0] == ["[BOS]", "<extra_id_0>", "0", "1"]
