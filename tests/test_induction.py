"""The induction task: rows that repeat their prefix, one clm row per sequence, and accuracy
measured only where induction can predict."""

import json
import random

import pytest
import torch

from models.induction import (
    copy_accuracy,
    next_token_predictions,
    positional_guesses,
    repeated_sequences,
    symbols,
    write_task,
)
from models.transformer import ModelConfig, Transformer
from txdata import CausalLMOptions, DataConfig, SourceConfig, prepare
from txdata.errors import ConfigError

VOCABULARY = symbols(16)


@pytest.mark.parametrize(("shortest", "longest"), [(2, 2), (3, 9), (8, 16)])
def test_each_row_is_a_prefix_and_the_same_prefix_again(shortest, longest):
    rows = repeated_sequences(500, VOCABULARY, shortest, longest, seed=0)
    assert len(rows) == 500
    for row in rows:
        half = len(row) // 2
        assert len(row) == 2 * half and shortest <= half <= longest
        assert row[:half] == row[half:]
        assert set(row) <= set(VOCABULARY)
    assert {len(row) // 2 for row in rows} == set(range(shortest, longest + 1))
    assert rows == repeated_sequences(500, VOCABULARY, shortest, longest, seed=0)
    assert rows != repeated_sequences(500, VOCABULARY, shortest, longest, seed=1)


def test_prefix_symbols_are_drawn_uniformly_with_repeats():
    rows = repeated_sequences(4000, VOCABULARY, 8, 8, seed=0)
    counts = torch.bincount(torch.tensor([VOCABULARY.index(s) for r in rows for s in r[:8]]))
    assert len(counts) == 16 and (counts - 2000).abs().max() < 200  # 32,000 draws of 16
    assert any(len(set(row[:8])) < 8 for row in rows)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        symbols(1)
    with pytest.raises(ConfigError):
        repeated_sequences(1, VOCABULARY, 5, 4, seed=0)


def test_the_written_task_gives_clm_one_whole_sequence_per_row(tmp_path):
    rows = repeated_sequences(50, VOCABULARY, 3, 7, seed=0)
    corpus, tokenizer = write_task(rows, VOCABULARY, tmp_path)
    lines = corpus.read_text().splitlines()
    assert [json.loads(line)["text"].split() for line in lines] == rows
    data = prepare(
        DataConfig(
            "clm",
            SourceConfig(str(corpus)),
            tokenizer=str(tokenizer),
            length=2 * 7 + 1,
            options=CausalLMOptions(pack=False),
        )
    )
    eos = data.tokenizer.token_to_id("[EOS]")
    expected = [[data.tokenizer.token_to_id(s) for s in row] + [eos] for row in rows]
    assert data.examples["input_ids"] == expected  # nothing cut, nothing run together


def test_a_perfect_predictor_scores_100_and_a_constant_one_chance():
    rows = repeated_sequences(3000, VOCABULARY, 8, 16, seed=0)
    perfect = [row[1:] for row in rows]  # the token after each position
    assert copy_accuracy(rows, perfect) == (1.0, 1.0)
    constant = [["a"] * (len(row) - 1) for row in rows]
    first, second = copy_accuracy(rows, constant)
    assert first == pytest.approx(1 / 16, abs=0.01) and second == pytest.approx(1 / 16, abs=0.01)


def test_only_the_predictable_positions_are_scored():
    rows = repeated_sequences(200, VOCABULARY, 4, 9, seed=0)
    wrong = random.Random(0)

    def other_than(symbol: str) -> str:
        return wrong.choice([s for s in VOCABULARY if s != symbol])

    # Right on every scored target, wrong on the last guess (after the row) and on the second
    # copy's first token: still 100 %, so neither counts.
    for row in rows:
        half = len(row) // 2
        guess = [*row[1:], "z"]
        guess[half - 1] = other_than(row[half])
        assert copy_accuracy([row], [guess]) == (1.0, 1.0)
    # Wrong on the second copy only: the first copy keeps its score.
    for row in rows:
        half = len(row) // 2
        guess = [other_than(row[t + 1]) if t >= half else row[t + 1] for t in range(len(row) - 1)]
        assert copy_accuracy([row], [guess]) == (1.0, 0.0)


def test_copy_accuracy_refuses_rows_that_do_not_repeat():
    with pytest.raises(ConfigError):
        copy_accuracy([["a", "b", "a", "c"]], [["b", "a", "c"]])


def test_predictions_of_a_padded_batch_are_those_of_each_row_alone():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=30, d_model=16, heads=2, d_ff=32), "decoder")
    rows = [[8, 9, 10, 8, 9, 10], [11, 12, 11, 12]]
    together = next_token_predictions(model, rows)
    assert [len(guess) for guess in together] == [6, 4]
    assert together == [next_token_predictions(model, [row])[0] for row in rows]


def test_position_alone_solves_a_fixed_length_and_only_part_of_varied_ones():
    fixed = repeated_sequences(300, VOCABULARY, 8, 8, seed=0)
    assert copy_accuracy(fixed, positional_guesses(fixed, 8, 8))[1] == 1.0
    varied = repeated_sequences(1000, VOCABULARY, 8, 16, seed=0)
    first, second = copy_accuracy(varied, positional_guesses(varied, 8, 16))
    assert first == pytest.approx(1 / 16, abs=0.02) and 0.2 < second < 0.5


def test_positional_guesses_read_no_symbol_after_the_position():
    row = repeated_sequences(1, VOCABULARY, 10, 14, seed=3)[0]
    guesses = positional_guesses([row], 10, 14)[0]
    for t in range(len(row) - 1):
        changed = row[: t + 1] + ["z"] * (len(row) - t - 1)
        assert positional_guesses([changed], 10, 14)[0][t] == guesses[t]
