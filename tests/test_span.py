"""span: SpanBERT's span masking. Span lengths from the truncated geometric, the token budget,
whole words, spans that never overlap, and the 80/10/10 rule applied to each span as a unit."""

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import txdata.objectives.span as span_module
from cli.main import app
from tests.cli_errors import one_line_error
from txdata import DataConfig, prepare
from txdata.collate import batch_generator, pad_right
from txdata.errors import ConfigError
from txdata.objectives.mlm import NO_WORD
from txdata.objectives.span import (
    NOT_CHOSEN,
    SpanMasking,
    SpanMaskingOptions,
    choose_spans,
    draw_span_lengths,
    span_length_probabilities,
    word_numbers,
)
from txdata.special_tokens import IGNORE_INDEX

SPECIAL = 7  # ids 0..6 are special; the wide tokenizer's ordinary symbols are 7 … 1006
UNK, CLS, SEP, MASK = 1, 2, 3, 4


@st.composite
def span_rows(draw, longest=60):
    """Rows `[CLS] tokens [SEP]` with word ids: each token starts a new word or continues the
    one before, and some are [UNK] (special: never chosen). Hypothesis draws the shape and
    the rates; numpy fills the rows in, which is much faster to generate than token lists."""
    sizes = draw(st.lists(st.integers(0, longest), min_size=1, max_size=6))
    new_word, unknown = draw(st.floats(0.2, 1.0)), draw(st.sampled_from([0.0, 0.1, 0.5]))
    generator = np.random.default_rng(draw(st.integers(0, 2**32)))
    rows = {"input_ids": [], "word_ids": []}
    for size in sizes:
        ids = generator.integers(SPECIAL, SPECIAL + 1000, size)
        ids[generator.random(size) < unknown] = UNK
        starts = generator.random(size) < new_word
        words = np.cumsum(starts | (np.arange(size) == 0)) - 1
        rows["input_ids"].append([CLS, *map(int, ids), SEP])
        rows["word_ids"].append([NO_WORD, *map(int, words), NO_WORD])
    return rows


options_strategy = st.builds(
    SpanMaskingOptions,
    span_budget=st.floats(0.01, 1.0),
    span_geometric_p=st.floats(0.05, 1.0),
    span_max_words=st.integers(1, 12),
)


def spans_of(objective, rows, generator):
    """The spans that `objective.collate(rows, generator)` draws: they are drawn first."""
    ids, _ = pad_right(rows["input_ids"], 0, objective.pad_to_multiple_of)
    words, _ = pad_right(rows["word_ids"], NO_WORD, objective.pad_to_multiple_of)
    eligible = ~objective.is_special[ids.numpy()]
    return choose_spans(eligible, word_numbers(words.numpy()), objective.options, generator)


def budget(row_ids, share):
    """The spec: round(n·share) tokens (halves to even, as Python rounds), at least 1, at
    most n, where n counts the row's ordinary tokens."""
    n = sum(1 for token in row_ids if token >= SPECIAL)
    return min(max(round(n * share), 1), n)


def row_spans(span_row, word_row):
    """{span number: [(word, [positions])]} of one row, words in order."""
    found = {}
    for position, (number, word) in enumerate(zip(span_row, word_row)):
        if number != NOT_CHOSEN:
            words = found.setdefault(int(number), {})
            words.setdefault(int(word), []).append(position)
    return {number: sorted(words.items()) for number, words in found.items()}


def test_span_lengths_are_spanberts_truncated_geometric():
    probabilities = span_length_probabilities(0.2, 10)
    mean = float(probabilities @ np.arange(1, 11))
    assert round(mean, 3) == 3.797  # the paper's "3.8"; clipping at 10 would give 4.463
    assert probabilities[0] == pytest.approx(0.2 / (1 - 0.8**10))
    lengths = draw_span_lengths((200_000,), 0.2, 10, torch.Generator().manual_seed(0))
    assert lengths.min() == 1 and lengths.max() == 10
    assert abs(lengths.mean() - mean) < 0.03  # 2.55 / sqrt(200,000) = 0.006: 5 sigma
    frequencies = np.bincount(lengths, minlength=11)[1:] / len(lengths)
    assert np.abs(frequencies - probabilities).max() < 0.005
    # Truncated and renormalized, not clipped: 10 is as rare as the geometric makes it.
    assert frequencies[-1] < 0.035


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.05, 1.0), longest=st.integers(1, 12), seed=st.integers(0, 2**32))
def test_span_lengths_follow_their_distribution_for_any_p_and_longest(p, longest, seed):
    probabilities = span_length_probabilities(p, longest)
    assert probabilities.sum() == pytest.approx(1.0) and (np.diff(probabilities) <= 0).all()
    lengths = draw_span_lengths((20_000,), p, longest, torch.Generator().manual_seed(seed))
    assert lengths.min() >= 1 and lengths.max() <= longest
    mean = probabilities @ np.arange(1, longest + 1)
    spread = np.sqrt(probabilities @ (np.arange(1, longest + 1) - mean) ** 2)
    assert abs(lengths.mean() - mean) <= 6 * spread / np.sqrt(len(lengths)) + 1e-9


@settings(max_examples=150, deadline=None)
@given(rows=span_rows(), options=options_strategy, seed=st.integers(0, 2**32))
def test_each_row_reaches_its_budget_and_overshoots_by_less_than_its_last_word(
    wide_tokenizer, rows, options, seed
):
    """The budget, exactly: the chosen tokens reach round(n·share), and the last word of
    the last span drawn is the one that reached it."""
    objective = SpanMasking(wide_tokenizer, 64, options)
    spans = spans_of(objective, rows, torch.Generator().manual_seed(seed))
    words, _ = pad_right(rows["word_ids"], NO_WORD)
    numbers = word_numbers(words.numpy())
    for span_row, word_row, ids in zip(spans, numbers, rows["input_ids"]):
        chosen = int((span_row != NOT_CHOSEN).sum())
        if not any(token >= SPECIAL for token in ids):
            assert chosen == 0
            continue
        found = row_spans(span_row, word_row)
        last_word = found[max(found)][-1]
        need = budget(ids, options.span_budget)
        assert need <= chosen and chosen - len(last_word[1]) < need


@settings(max_examples=50, deadline=None)
@given(data=st.data(), share=st.floats(0.01, 1.0), seed=st.integers(0, 2**32))
def test_with_one_token_a_word_the_budget_is_exact(wide_tokenizer, data, share, seed):
    sizes = data.draw(st.lists(st.integers(1, 80), min_size=1, max_size=6))
    rows = {
        "input_ids": [[CLS, *range(SPECIAL, SPECIAL + n), SEP] for n in sizes],
        "word_ids": [[NO_WORD, *range(n), NO_WORD] for n in sizes],
    }
    objective = SpanMasking(wide_tokenizer, 128, SpanMaskingOptions(span_budget=share))
    batch = objective.collate(rows, torch.Generator().manual_seed(seed))
    chosen = (batch["labels"] != IGNORE_INDEX).sum(dim=1).tolist()
    assert chosen == [budget(ids, share) for ids in rows["input_ids"]]


@settings(max_examples=150, deadline=None)
@given(rows=span_rows(), options=options_strategy, seed=st.integers(0, 2**32))
def test_spans_are_runs_of_whole_words_that_never_overlap_nor_cross_a_special_token(
    wide_tokenizer, rows, options, seed
):
    objective = SpanMasking(wide_tokenizer, 64, options)
    spans = spans_of(objective, rows, torch.Generator().manual_seed(seed))
    ids, _ = pad_right(rows["input_ids"], 0)
    words, _ = pad_right(rows["word_ids"], NO_WORD)
    numbers = word_numbers(words.numpy())
    for span_row, word_row, id_row in zip(spans, numbers, ids.numpy()):
        # Never a special token nor a pad; [UNK] stays unchosen even inside a chosen word.
        assert (span_row[id_row < SPECIAL] == NOT_CHOSEN).all()
        found = row_spans(span_row, word_row)
        assert sorted(found) == list(range(len(found)))  # numbered 0, 1, … as drawn
        for number, held in found.items():
            run = [word for word, _ in held]
            # Consecutive words, as many as a span may hold: so no special word inside.
            assert run == list(range(run[0], run[0] + len(run)))
            assert len(run) <= options.span_max_words
            for word, positions in held:
                # The whole word: every ordinary token of it, in this span and no other.
                members = np.flatnonzero((word_row == word) & (id_row >= SPECIAL))
                assert positions == members.tolist(), f"word {word} split in span {number}"


@settings(max_examples=100, deadline=None)
@given(rows=span_rows(), seed=st.integers(0, 2**32))
def test_labels_are_the_original_exactly_where_a_span_holds_and_the_rest_is_mlms(
    wide_tokenizer, rows, seed
):
    objective = SpanMasking(wide_tokenizer, 64, pad_to_multiple_of=8)
    spans = spans_of(objective, rows, batch_generator(seed, 0, 0))
    batch = objective.collate(rows, batch_generator(seed, 0, 0))
    original, attention_mask = pad_right(rows["input_ids"], 0, 8)
    chosen = torch.from_numpy(spans != NOT_CHOSEN)
    assert torch.equal(batch["labels"] != IGNORE_INDEX, chosen)
    assert torch.equal(batch["labels"][chosen], original[chosen])
    assert torch.equal(batch["input_ids"][~chosen], original[~chosen])
    replaced = chosen & (batch["input_ids"] != original) & (batch["input_ids"] != MASK)
    assert (batch["input_ids"][replaced] >= SPECIAL).all(), "a random replacement was special"
    assert torch.equal(batch["attention_mask"], attention_mask)
    assert (batch["token_type_ids"] == 0).all()
    assert all(value.dtype == torch.int64 for value in batch.values())


def long_rows(count, words, seed=0):
    """`count` rows of `words` one-token words, ordinary tokens drawn at random."""
    draw = np.random.default_rng(seed).integers(SPECIAL, SPECIAL + 1000, (count, words))
    return {
        "input_ids": [[CLS, *map(int, row), SEP] for row in draw],
        "word_ids": [[NO_WORD, *range(words), NO_WORD]] * count,
    }


def test_a_span_starts_at_any_word_alike_however_many_tokens_it_has(wide_tokenizer):
    """Twelve words of 1, 2 and 3 tokens and a budget of one token: the one span holds its
    start word only. Each word starts it as often (SpanBERT's code, which starts at the word
    of a random token, would favour the long words threefold)."""
    sizes = [1, 2, 3] * 4
    words = [word for word, size in enumerate(sizes) for _ in range(size)]
    rows = long_rows(4000, len(words))
    rows["word_ids"] = [[NO_WORD, *words, NO_WORD]] * 4000
    objective = SpanMasking(wide_tokenizer, 32, SpanMaskingOptions(span_budget=0.03))
    spans = spans_of(objective, rows, torch.Generator().manual_seed(0))
    chosen = spans != NOT_CHOSEN
    start = np.array(words)[chosen.argmax(axis=1) - 1]  # the word of each row's first token
    assert (chosen.sum(axis=1) == np.array(sizes)[start]).all()  # that word, whole, alone
    counts = np.bincount(start, minlength=12)
    assert len(counts) == 12 and np.abs(counts - 4000 / 12).max() < 75  # ± 18 each: 4 sigma


def test_a_rows_first_span_holds_the_length_it_drew(wide_tokenizer):
    """The first span of a long row, with a budget above 10 tokens, is cut only by the row's
    end (1 row in 100): its lengths are the drawn ones. (Later spans are not a fair sample:
    the one that crosses the budget is, as in any renewal process, the long one.)"""
    objective = SpanMasking(wide_tokenizer, 402, SpanMaskingOptions(span_budget=0.05))
    spans = spans_of(objective, long_rows(2000, 400), torch.Generator().manual_seed(1))
    lengths = (spans == 0).sum(axis=1)  # one-token words: tokens are words
    assert lengths.min() == 1 and lengths.max() == 10
    assert abs(lengths.mean() - 3.797) < 0.2  # 2.55 / sqrt(2,000) = 0.06; the ends: ~0.02
    frequencies = np.bincount(lengths, minlength=11)[1:] / len(lengths)
    assert np.abs(frequencies - span_length_probabilities(0.2, 10)).max() < 0.03


def test_each_span_is_one_unit_and_spans_split_80_10_10(wide_tokenizer):
    objective = SpanMasking(wide_tokenizer, 130)
    rows = long_rows(1000, 128, seed=2)
    spans = spans_of(objective, rows, batch_generator(0, 0, 0))
    batch = objective.collate(rows, batch_generator(0, 0, 0))
    original, inputs = pad_right(rows["input_ids"], 0)[0].numpy(), batch["input_ids"].numpy()
    kinds = {"masked": 0, "random": 0, "kept": 0, "mixed": 0}
    for number_row, original_row, input_row in zip(spans, original, inputs):
        for number in np.unique(number_row[number_row != NOT_CHOSEN]):
            held = number_row == number
            masked = input_row[held] == MASK
            changed = input_row[held] != original_row[held]
            assert masked.all() or not masked.any(), "a span partly [MASK]"
            if masked.all():
                kinds["masked"] += 1
            elif not changed.any():
                kinds["kept"] += 1
            else:
                # A random span whose token happens to draw the original back (1 in 1,000)
                # looks partly kept; a span treated token by token would, half the time.
                kinds["random" if changed.all() else "mixed"] += 1
    total = sum(kinds.values())
    assert total > 4000
    assert abs(kinds["masked"] / total - 0.8) < 0.03
    assert abs(kinds["random"] / total - 0.1) < 0.02
    assert abs(kinds["kept"] / total - 0.1) < 0.02
    assert kinds["mixed"] / total < 0.005


def test_probabilities_steer_the_split(wide_tokenizer):
    options = SpanMaskingOptions(span_mask_probability=0.0, span_random_probability=1.0)
    objective = SpanMasking(wide_tokenizer, 130, options)
    rows = long_rows(100, 128)
    batch = objective.collate(rows, torch.Generator().manual_seed(0))
    original = pad_right(rows["input_ids"], 0)[0]
    chosen = batch["labels"] != IGNORE_INDEX
    assert not (batch["input_ids"] == MASK).any()
    assert (batch["input_ids"][chosen] != original[chosen]).float().mean() > 0.99


def test_same_seed_same_spans_other_epoch_other_spans(wide_tokenizer):
    objective = SpanMasking(wide_tokenizer, 130)
    rows = long_rows(64, 128)
    first, again = (objective.collate(rows, batch_generator(0, 0, 5)) for _ in range(2))
    other = objective.collate(rows, batch_generator(0, 1, 5))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["labels"], other["labels"])


def test_alternating_windows_hide_two_of_their_ten_symbols():
    data = prepare(DataConfig("span"))  # length 12: [CLS], 10 symbols, [SEP]
    batch = data.batches(64, seed=0)[0]
    assert ((batch["labels"] != IGNORE_INDEX).sum(dim=1) == 2).all()  # round(1.5) = 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"span_budget": 0.0}, r"span budget must lie in \(0, 1\]"),
        ({"span_budget": 1.5}, r"span budget must lie in \(0, 1\]"),
        ({"span_geometric_p": 0.0}, r"span geometric p must lie in \(0, 1\]"),
        ({"span_max_words": 0}, "span max words must be at least 1"),
        ({"span_mask_probability": -0.1}, r"span mask probability must lie in \[0, 1\]"),
        ({"span_mask_probability": 0.9, "span_random_probability": 0.2}, "exceed 1"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        SpanMaskingOptions(**options)


def test_show_prints_the_example_of_the_module_docstring():
    result = CliRunner().invoke(app, ["show", "--mode", "span", "--format", "json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["batch"]
    inputs, labels = shown["input_ids"][0], shown["labels"][0]
    assert f"input_ids  {inputs}" in span_module.__doc__
    assert f"labels     {labels}" in span_module.__doc__
    table = CliRunner().invoke(app, ["show", "--mode", "span"])
    assert table.exit_code == 0, table.output
    assert "[MASK]" in table.stdout and "loss on 2 of 12 tokens read" in table.stdout


def test_the_cli_takes_the_options_and_refuses_bad_ones_in_one_line():
    args = ["show", "--mode", "span", "--format", "json", "--span-budget", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    labels = np.array(json.loads(result.stdout)["batch"]["labels"])
    assert ((labels != IGNORE_INDEX).sum(axis=1) == 5).all()  # half of 10 symbols
    refused = CliRunner().invoke(app, ["show", "--mode", "span", "--span-max-words", "0"])
    assert one_line_error(refused) == "error: span max words must be at least 1, got 0"


def test_a_trained_run_fills_each_mask(tmp_path):
    tiny = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "64", "--no-plots"]
    run = tmp_path / "span"
    trained = CliRunner().invoke(
        app, ["train", "--mode", "span", *tiny, "--steps", "5", "--out", str(run)]
    )
    assert trained.exit_code == 0, trained.output
    result = CliRunner().invoke(
        app, ["predict", "--run", str(run), "1 [MASK] [MASK] 0 1", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["mode"] == "span" and [fill["position"] for fill in answer["fills"]] == [2, 3]
    assert all(len(fill["candidates"]) == 5 for fill in answer["fills"])
