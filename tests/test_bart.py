"""bart: BART's text infilling. Labels that are the original row, spans of whole words that
cover exactly the share asked for and never overlap or touch, Poisson span lengths with
0-length insertions, inputs that fit `length`, and sentence permutation."""

import json
import math
from itertools import pairwise

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
from txdata.objectives.bart import InfillingOptions, TextInfilling
from txdata.special_tokens import IGNORE_INDEX, SpecialIds
from txdata.tokenizer import alternating_tokenizer

WORDS = [f"w{i}" for i in range(20)]
documents = st.lists(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=40), min_size=1, max_size=8
)


def spaced(text):
    return text.split()


def objective(length, options=None, multiple=None, vocabulary=WORDS):
    """A bart objective over one-token words: every token is a word."""
    tokenizer = alternating_tokenizer(" ".join(vocabulary))
    return TextInfilling(tokenizer, length, options or InfillingOptions(), multiple)


def rows_of(batch, special):
    """Per row: the input, what each of its positions hid, and the labels, all unpadded."""
    for ids, mask, hidden, labels in zip(
        batch["input_ids"], batch["attention_mask"], batch.hidden_lengths, batch["labels"]
    ):
        real = mask == 1
        yield ids[real].tolist(), hidden[real].tolist(), labels[labels != IGNORE_INDEX].tolist()


def spans_of(inputs, hidden, labels, mask_id):
    """Read the input against the labels: each visible token must be the next label, each
    [MASK] stands for the next `hidden` labels. Returns each span as (start, length) in the
    labels; fails if the input does not read back into exactly the labels."""
    spans, cursor = [], 0
    for token, hid in zip(inputs, hidden):
        if token == mask_id:
            assert hid >= 0
            spans.append((cursor, hid))
            cursor += hid
        else:
            assert hid == -1 and token == labels[cursor], (inputs, hidden, labels)
            cursor += 1
    assert cursor == len(labels), (inputs, hidden, labels)
    return spans


@settings(max_examples=150, deadline=None)
@given(
    docs=documents,
    length=st.integers(3, 40),
    ratio=st.floats(0.0, 1.0),
    poisson_lambda=st.floats(0.05, 8.0),
    multiple=st.sampled_from([None, 8]),
    seed=st.integers(0, 2**32),
)
def test_the_labels_are_the_row_and_each_mask_hides_a_span_covering_exactly_the_ratio(
    docs, length, ratio, poisson_lambda, multiple, seed
):
    bart = objective(length, InfillingOptions(ratio, poisson_lambda), multiple)
    rows = bart.examples(Texts.of_words(docs))[:]
    batch = bart.collate(rows, torch.Generator().manual_seed(seed))
    special = bart.special
    if multiple:
        assert batch["input_ids"].shape[1] % multiple == 0 == batch["labels"].shape[1] % multiple
    for row, (inputs, hidden, labels) in zip(rows["input_ids"], rows_of(batch, special)):
        assert labels == [*row, special.eos]  # the original row, never corrupted
        assert inputs[-1] == special.eos and special.eos not in inputs[:-1]
        assert len(inputs) <= length  # insertions included
        spans = spans_of(inputs, hidden, labels, special.mask)
        # Every word is one token here: the spans cover round(ratio · words) words exactly.
        assert sum(hid for _, hid in spans) == round(ratio * len(row))
        # Spans never touch: between two [MASK]s stands at least one visible word.
        assert all(a != special.mask or b != special.mask for a, b in pairwise(inputs))


def test_the_decoder_reads_the_labels_shifted_right_behind_bos():
    bart = objective(24)
    batch = bart.collate(
        bart.examples(Texts.of_words([WORDS * 3]))[:], torch.Generator().manual_seed(0)
    )
    labels, decoder = batch["labels"], batch["decoder_input_ids"]
    assert (decoder[:, 0] == bart.special.bos).all()
    real = batch["decoder_attention_mask"][:, 1:] == 1
    assert torch.equal(decoder[:, 1:][real], labels[:, :-1][real])
    assert torch.equal(batch["decoder_attention_mask"] == 1, labels != IGNORE_INDEX)


def test_spans_cover_whole_words_of_a_wordpiece_tokenizer():
    data = prepare(DataConfig("bart", SourceConfig("sample:english"), length=32))
    rows = data.examples[:64]
    assert any(rows["continuations"])  # words of several tokens, or this proves nothing
    special = SpecialIds.of(data.tokenizer)
    for seed in range(4):
        batch = data.objective.collate(rows, torch.Generator().manual_seed(seed))
        for row, inside, (inputs, hidden, labels) in zip(
            rows["input_ids"], rows["continuations"], rows_of(batch, special)
        ):
            starts = set(range(len(row) + 1)) - set(inside)  # and the row's end
            spans = spans_of(inputs, hidden, labels, special.mask)
            assert all(start in starts and start + hid in starts for start, hid in spans)
            words_covered = sum(len(starts & set(range(s, s + h))) for s, h in spans)
            assert words_covered == round(0.3 * (len(starts) - 1))


@pytest.mark.parametrize("poisson_lambda", [1.0, 3.0, 6.0])
def test_span_lengths_are_poisson_with_insertions_and_cover_exactly_30_percent(poisson_lambda):
    """fairseq's spans may overlap, so its rows end up below the ratio; HF's Flax collator
    never inserts. Here every row covers round(0.3 · 900) = 270 words, the spans average λ,
    and a share e^-λ of them are 0-length insertions."""
    bart = objective(1000, InfillingOptions(poisson_lambda=poisson_lambda))
    rows = {"input_ids": [[7 + i % 20 for i in range(900)]] * 64, "continuations": [[]] * 64}
    lengths = []
    for seed in range(2):
        batch = bart.collate(rows, torch.Generator().manual_seed(seed))
        for inputs, hidden, labels in rows_of(batch, bart.special):
            spans = [hid for _, hid in spans_of(inputs, hidden, labels, bart.special.mask)]
            assert sum(spans) == 270
            lengths += spans
    mean = sum(lengths) / len(lengths)
    assert abs(mean - poisson_lambda) < 0.05 * poisson_lambda, mean
    inserted = lengths.count(0) / len(lengths)
    assert abs(inserted - math.exp(-poisson_lambda)) < 0.02, inserted


def test_insertions_fill_the_room_longer_spans_free_and_no_more():
    # λ = 0.3 draws mostly 0-length spans: the room, not the draws, limits the insertions,
    # so nearly every input fills `length` exactly, and none goes past it.
    bart = objective(12, InfillingOptions(poisson_lambda=0.3))
    rows = bart.examples(Texts.of_words([WORDS[:11]] * 256))[:]
    batch = bart.collate(rows, torch.Generator().manual_seed(0))
    sizes = batch["attention_mask"].sum(dim=1)
    assert int(sizes.max()) == 12 and (sizes == 12).float().mean() > 0.9
    assert (batch.hidden_lengths == 0).any()


def test_spans_fall_anywhere_in_the_row_in_random_order():
    """Each half of a row is covered as often, and the span drawn last (trimmed to fit) is
    not always the rightmost: the leftmost and rightmost spans are as long on average."""
    bart = objective(12, InfillingOptions(mask_ratio=0.5))
    rows = {"input_ids": [list(range(7, 18))] * 4096, "continuations": [[]] * 4096}
    batch = bart.collate(rows, torch.Generator().manual_seed(0))
    halves, ends = [0, 0], [[], []]
    for inputs, hidden, labels in rows_of(batch, bart.special):
        spans = spans_of(inputs, hidden, labels, bart.special.mask)
        covered = [word for start, hid in spans for word in range(start, start + hid)]
        halves[0] += sum(word < 5 for word in covered)
        halves[1] += sum(word > 5 for word in covered)
        if len(spans) > 1:
            ends[0].append(spans[0][1])
            ends[1].append(spans[-1][1])
    assert abs(halves[0] / halves[1] - 1) < 0.05, halves
    leftmost, rightmost = (sum(lengths) / len(lengths) for lengths in ends)
    assert abs(leftmost - rightmost) < 0.15, (leftmost, rightmost)


def test_a_ratio_of_0_keeps_the_row_and_a_ratio_of_1_leaves_one_mask():
    rows = {"input_ids": [[7, 8, 9, 10]], "continuations": [[]]}
    generator = torch.Generator().manual_seed(0)
    kept = objective(8, InfillingOptions(mask_ratio=0.0)).collate(rows, generator)
    assert kept["input_ids"].tolist() == [[7, 8, 9, 10, 6]]
    assert (kept.hidden_lengths == -1).all()
    gone = objective(8, InfillingOptions(mask_ratio=1.0)).collate(rows, generator)
    assert gone["input_ids"].tolist() == [[4, 6]] and gone.hidden_lengths.tolist() == [[4, -1]]


def test_permute_sentences_shuffles_whole_sentences_and_leaves_the_labels():
    vocabulary = ["a", "b", "c", "d", "e", "f", "g", ".", "!"]
    options = InfillingOptions(mask_ratio=0.0, permute_sentences=True)
    bart = objective(12, options, vocabulary=vocabulary)
    rows = bart.examples(Texts.of_words([spaced("a b . c d ! e f g")]))[:]
    words = rows["input_ids"][0]
    sentences = [tuple(words[i : i + 3]) for i in (0, 3, 6)]  # the last has no end mark
    orders = set()
    for seed in range(100):
        batch = bart.collate(rows, torch.Generator().manual_seed(seed))
        inputs = batch["input_ids"][0, :-1].tolist()
        order = tuple(sentences.index(tuple(inputs[i : i + 3])) for i in (0, 3, 6))
        assert sorted(order) == [0, 1, 2]
        assert batch["labels"][0].tolist() == [*words, bart.special.eos]
        orders.add(order)
    assert len(orders) == 6  # every order of three sentences


def test_permute_sentences_changes_nothing_on_the_alternating_source():
    plain, permuted = (
        prepare(DataConfig("bart", options=InfillingOptions(permute_sentences=flag)))
        for flag in (False, True)
    )
    first, second = (data.batches(16, seed=0)[0] for data in (plain, permuted))
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert torch.equal(first.hidden_lengths, second.hidden_lengths)


def test_spans_depend_only_on_the_generator():
    bart = objective(40)
    rows = bart.examples(Texts.of_words([WORDS * 10]))[:]
    first, again = (bart.collate(rows, batch_generator(3, 1, 2)) for _ in range(2))
    other = bart.collate(rows, batch_generator(3, 1, 3))
    assert all(torch.equal(first[key], again[key]) for key in first)
    assert not torch.equal(first["input_ids"], other["input_ids"])


def test_options_are_checked():
    for bad in (
        {"mask_ratio": -0.1},
        {"mask_ratio": 1.5},
        {"mask_ratio": float("nan")},
        {"poisson_lambda": 0.0},
        {"poisson_lambda": float("inf")},
        {"poisson_lambda": float("nan")},
    ):
        with pytest.raises(ConfigError):
            InfillingOptions(**bad)


def test_predict_frames_the_users_masks_then_eos():
    bart = objective(12)
    ids = bart.tokenizer.encode("w1 w0 [MASK] w0 w1", add_special_tokens=False).ids
    assert bart.frame(ids)["input_ids"][0].tolist() == [*ids, bart.special.eos]
    assert bart.special.mask in ids


def test_show_prints_how_many_tokens_each_mask_hid():
    result = CliRunner().invoke(app, ["show", "--mode", "bart", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # The module docstring's example: spans of 1 and 2 words in "0 1 0 1 0 1 0 1 0 1 0".
    assert document["tokens"]["input_ids"][1] == spaced("0 1 0 [MASK] 0 1 0 1 [MASK] 0 [EOS]")
    assert document["hidden_lengths"][1] == [-1, -1, -1, 1, -1, -1, -1, -1, 2, -1, -1]
    assert document["tokens"]["labels"][1] == spaced("0 1 0 1 0 1 0 1 0 1 0 [EOS]")
    table = CliRunner().invoke(app, ["show", "--mode", "bart"]).stdout
    assert "hid" in table.splitlines()[1]
    hid_column = table.splitlines()[1].index("hid")
    example_1 = table.split("example 1")[1].splitlines()
    assert [line[hid_column : hid_column + 3].strip() for line in example_1[2:13]] == [
        "", "", "", "1", "", "", "", "", "2", "", "",
    ]  # fmt: skip
