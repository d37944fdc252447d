"""Masked LM: which positions are chosen, what they become, and what the labels say."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from txdata.collate import batch_generator
from txdata.errors import ConfigError
from txdata.objectives.mlm import NO_WORD, MaskedLM, MaskingConfig, word_starts
from txdata.special_tokens import IGNORE_INDEX, SpecialIds

SPECIAL = 7  # ids 0..6 are special; ordinary symbols start here


@st.composite
def mlm_rows(draw):
    """Rows like `[CLS] tokens [SEP]`, some with [UNK] inside, and their word ids."""
    rows = {"input_ids": [], "word_ids": []}
    for _ in range(draw(st.integers(1, 6))):
        tokens = draw(st.lists(st.integers(SPECIAL, SPECIAL + 999) | st.just(1), max_size=30))
        words = sorted(
            draw(st.lists(st.integers(0, 8), min_size=len(tokens), max_size=len(tokens)))
        )
        rows["input_ids"].append([2, *tokens, 3])
        rows["word_ids"].append([NO_WORD, *words, NO_WORD])
    return rows


maskings = st.builds(
    MaskingConfig,
    mlm_probability=st.floats(0, 1),
    mask_probability=st.floats(0, 0.6),
    random_probability=st.floats(0, 0.4),
    whole_word=st.booleans(),
    exact_count=st.booleans(),
)


def collate(tokenizer, rows, masking, seed=0, epoch=0, index=0):
    objective = MaskedLM(tokenizer, length=32, options=masking)
    batch = objective.collate(rows, batch_generator(seed, epoch, index))
    original, _ = _padded(rows["input_ids"])
    return batch, original


def _padded(sequences, value=0):
    width = max(map(len, sequences))
    return torch.tensor([s + [value] * (width - len(s)) for s in sequences]), width


@settings(max_examples=200, deadline=None)
@given(rows=mlm_rows(), masking=maskings, seed=st.integers(0, 2**32))
def test_masking_invariants(wide_tokenizer, rows, masking, seed):
    batch, original = collate(wide_tokenizer, rows, masking, seed=seed)
    special = SpecialIds.of(wide_tokenizer)
    chosen = batch["labels"] != IGNORE_INDEX
    is_special = torch.isin(original, torch.tensor(special.all()))

    assert not (chosen & is_special).any(), "a special or pad position was chosen"
    assert torch.equal(batch["labels"][chosen], original[chosen])
    assert torch.equal(batch["input_ids"][~chosen], original[~chosen])
    replaced = chosen & (batch["input_ids"] != original) & (batch["input_ids"] != special.mask)
    assert (batch["input_ids"][replaced] >= SPECIAL).all(), "a random replacement was special"
    assert (batch["input_ids"] >= 0).all()
    assert (batch["attention_mask"] == (original != special.pad).long()).all()
    assert (batch["token_type_ids"] == 0).all()
    for key, value in batch.items():
        assert value.dtype == torch.int64, key


@settings(max_examples=100, deadline=None)
@given(rows=mlm_rows(), seed=st.integers(0, 2**32), exact=st.booleans())
def test_whole_word_masking_never_splits_a_word(wide_tokenizer, rows, seed, exact):
    masking = MaskingConfig(mlm_probability=0.4, whole_word=True, exact_count=exact)
    batch, _ = collate(wide_tokenizer, rows, masking, seed=seed)
    chosen = batch["labels"] != IGNORE_INDEX
    eligible = batch["input_ids"] != 0
    for row, (ids, words) in enumerate(zip(rows["input_ids"], rows["word_ids"])):
        for word in set(words) - {NO_WORD}:
            # [UNK] (id 1) is special and never chosen, even inside a chosen word.
            members = [p for p, w in enumerate(words) if w == word and ids[p] != 1]
            states = {bool(chosen[row, p]) for p in members}
            assert len(states) <= 1, f"word {word} of row {row} was split"
        assert eligible[row, : len(ids)].all()


@settings(max_examples=100, deadline=None)
@given(rows=mlm_rows(), p=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_exact_count_chooses_round_n_p_and_at_least_one(wide_tokenizer, rows, p, seed):
    batch, original = collate(wide_tokenizer, rows, MaskingConfig(p, exact_count=True), seed=seed)
    chosen = (batch["labels"] != IGNORE_INDEX).sum(dim=1)
    eligible = (original >= SPECIAL).sum(dim=1)
    expected = torch.round(eligible * p).clamp(min=1).minimum(eligible)
    assert torch.equal(chosen, expected)


def test_word_starts_points_each_token_to_its_word():
    word_ids = torch.tensor([[NO_WORD, 0, 0, 1, 2, 2, 2, NO_WORD, NO_WORD]])
    assert word_starts(word_ids).tolist() == [[0, 1, 1, 3, 4, 4, 4, 7, 8]]


def _big_batch(tokenizer, masking, seed=1234):
    """1,000 rows of 128 ordinary tokens: 128,000 eligible positions."""
    generator = torch.Generator().manual_seed(99)
    tokens = torch.randint(SPECIAL, SPECIAL + 1000, (1000, 128), generator=generator).tolist()
    words = [[NO_WORD, *[i // 3 for i in range(128)], NO_WORD] for _ in tokens]
    rows = {"input_ids": [[2, *t, 3] for t in tokens], "word_ids": words}
    return collate(tokenizer, rows, masking, seed=seed)


@pytest.mark.parametrize("whole_word", [False, True])
def test_chosen_fraction_is_fifteen_percent(wide_tokenizer, whole_word):
    batch, original = _big_batch(wide_tokenizer, MaskingConfig(whole_word=whole_word))
    eligible = int((original >= SPECIAL).sum())
    assert eligible >= 100_000
    fraction = int((batch["labels"] != IGNORE_INDEX).sum()) / eligible
    assert abs(fraction - 0.15) <= 0.005, fraction


def test_chosen_positions_split_80_10_10(wide_tokenizer):
    batch, original = _big_batch(wide_tokenizer, MaskingConfig())
    chosen = batch["labels"] != IGNORE_INDEX
    inputs = batch["input_ids"][chosen]
    masked = (inputs == SpecialIds.of(wide_tokenizer).mask).float().mean()
    kept = (inputs == original[chosen]).float().mean()
    randomised = 1 - masked - kept
    # A random token equals the original 1 time in 1,000; that lands in "kept", as in BERT.
    assert abs(masked - 0.8) <= 0.015
    assert abs(randomised - 0.1 * 0.999) <= 0.015
    assert abs(kept - (0.1 + 0.1 / 1000)) <= 0.015


def test_probabilities_steer_the_split(wide_tokenizer):
    masking = MaskingConfig(mlm_probability=0.5, mask_probability=0.0, random_probability=1.0)
    batch, original = _big_batch(wide_tokenizer, masking)
    chosen = batch["labels"] != IGNORE_INDEX
    assert abs(chosen[:, 1:-1].float().mean() - 0.5) < 0.01
    assert (batch["input_ids"][chosen] != SpecialIds.of(wide_tokenizer).mask).all()
    assert (batch["input_ids"][chosen] != original[chosen]).float().mean() > 0.99


def test_same_seed_same_masks_other_epoch_other_masks(wide_tokenizer):
    first, _ = _big_batch(wide_tokenizer, MaskingConfig(), seed=0)
    again, _ = _big_batch(wide_tokenizer, MaskingConfig(), seed=0)
    assert torch.equal(first["input_ids"], again["input_ids"])
    assert torch.equal(first["labels"], again["labels"])
    rows = {"input_ids": [[2, *range(SPECIAL, SPECIAL + 200), 3]]}
    epoch_0, _ = collate(wide_tokenizer, rows, MaskingConfig(), seed=0, epoch=0)
    epoch_1, _ = collate(wide_tokenizer, rows, MaskingConfig(), seed=0, epoch=1)
    assert not torch.equal(epoch_0["labels"], epoch_1["labels"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mlm_probability": 1.5}, "mlm probability must lie in [0, 1]"),
        ({"mask_probability": -0.1}, "mask probability must lie in [0, 1]"),
        ({"mask_probability": 0.9, "random_probability": 0.2}, "exceed 1"),
    ],
)
def test_bad_probabilities_are_refused(options, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        MaskingConfig(**options)
