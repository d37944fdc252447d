import itertools
import json
import os
import random
import string
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers

from txdata import ConfigError, SpecialIds, TokenizerError, UnknownNameError
from txdata.special_tokens import SPECIAL_TOKENS
from txdata.subword_merges import learn_merges, merge_symbols, split_word
from txdata.tokenizer import (
    TRAINED_KINDS,
    alternating_tokenizer,
    cached_tokenizer,
    load_tokenizer,
    train_tokenizer,
)

EXPECTED_IDS = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "[BOS]": 5, "[EOS]": 6}
# Big enough for every letter and "##letter" of the corpus, so nothing becomes [UNK].
VOCAB_SIZES = {"wordpiece": 120, "bpe": 400, "char": 80}


def pseudo_word_corpus(seed: int, lines: int) -> list[str]:
    """Lines of made-up lowercase words; with many syllables, lots of pair counts tie."""
    rng = random.Random(seed)
    syllables = ["".join(pair) for pair in itertools.product("bdgklmnprst", "aeiou")]
    syllables += list(string.ascii_lowercase)
    return [
        " ".join(
            "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4)))
            for _ in range(rng.randint(3, 10))
        )
        for _ in range(lines)
    ]


CORPUS = pseudo_word_corpus(seed=0, lines=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Tokenizer]:
    """One tokenizer of each trained kind, shared by the tests that only read them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TXDATA_CACHE", str(tmp_path_factory.mktemp("cache")))
        return {kind: train_tokenizer(CORPUS, kind, VOCAB_SIZES[kind]) for kind in TRAINED_KINDS}


# Special tokens


@pytest.mark.parametrize("kind", ["alternating", *TRAINED_KINDS])
def test_special_tokens_have_the_fixed_ids_in_every_kind(trained, kind):
    tokenizer = alternating_tokenizer("1 0") if kind == "alternating" else trained[kind]
    special = SpecialIds.of(tokenizer)
    assert special.as_dict() == EXPECTED_IDS
    assert special.bos != special.pad
    # Special tokens are never split, and are skipped when decoding.
    assert tokenizer.encode("[MASK]").ids == [4]
    assert tokenizer.decode([5, 4, 6, 0]) == ""


def test_alternating_tokenizer_puts_the_symbols_after_the_special_tokens():
    tokenizer = alternating_tokenizer("1 1 0")
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    assert (vocab["0"], vocab["1"]) == (7, 8)
    assert tokenizer.get_vocab_size() == 9
    assert tokenizer.encode("1 1 0").ids == [8, 8, 7]
    assert tokenizer.encode("1 2").ids == [8, 1]  # unknown symbol → [UNK]


def test_alternating_tokenizer_refuses_an_empty_pattern():
    with pytest.raises(ConfigError, match="pattern is empty"):
        alternating_tokenizer("  ")


# Training


@pytest.mark.parametrize(("kind", "vocab_size"), [("wordpiece", 60), ("bpe", 300), ("char", 20)])
def test_trained_tokenizer_respects_vocab_size(monkeypatch, tmp_path, kind, vocab_size):
    monkeypatch.setenv("TXDATA_CACHE", str(tmp_path / "cache"))
    assert train_tokenizer(CORPUS, kind, vocab_size).get_vocab_size() <= vocab_size


@pytest.mark.parametrize(("kind", "vocab_size"), [("wordpiece", 20), ("bpe", 100)])
def test_vocab_size_below_the_alphabet_is_refused(monkeypatch, tmp_path, kind, vocab_size):
    monkeypatch.setenv("TXDATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match=f"vocab size {vocab_size} cannot hold the"):
        train_tokenizer(CORPUS, kind, vocab_size)


lowercase_text = st.lists(
    st.text(string.ascii_lowercase, min_size=1, max_size=12), min_size=1, max_size=6
).map(" ".join)


@pytest.mark.parametrize("kind", ["wordpiece", "char"])
@given(text=lowercase_text)
@settings(max_examples=50, deadline=None)
def test_lowercase_text_round_trips_through_decode(trained, kind, text):
    tokenizer = trained[kind]
    encoding = tokenizer.encode(text)
    assert SpecialIds.of(tokenizer).unk not in encoding.ids
    assert tokenizer.decode(encoding.ids) == text


@pytest.mark.parametrize("kind", ["wordpiece", "char"])
def test_training_lowercases_and_makes_each_digit_a_word(monkeypatch, tmp_path, kind):
    monkeypatch.setenv("TXDATA_CACHE", str(tmp_path / "cache"))
    tokenizer = train_tokenizer(["Call 911 NOW", "call 112 now"], kind, 60)
    encoding = tokenizer.encode("CALL 121 Now")
    assert tokenizer.decode(encoding.ids) == "call 1 2 1 now"
    assert max(encoding.word_ids) == 4


@pytest.mark.parametrize(
    ("kind", "vocab_size", "error", "match"),
    [
        ("sentencepiece", 100, UnknownNameError, "unknown tokenizer 'sentencepiece'"),
        ("wordpiece", len(SPECIAL_TOKENS), ConfigError, "leaves no room"),
    ],
)
def test_training_refuses_unknown_kinds_and_tiny_vocabularies(
    monkeypatch, tmp_path, kind, vocab_size, error, match
):
    monkeypatch.setenv("TXDATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(error, match=match):
        train_tokenizer(CORPUS, kind, vocab_size)


def test_training_refuses_a_corpus_without_words(monkeypatch, tmp_path):
    monkeypatch.setenv("TXDATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConfigError, match="no words"):
        train_tokenizer(["", "   "], "wordpiece", 100)


# Whole words


@pytest.mark.parametrize("kind", TRAINED_KINDS)
def test_word_ids_mark_every_token_of_a_word_with_the_same_id(trained, kind):
    words = ["unbelievable", "things"]
    encoding = trained[kind].encode(" ".join(words))
    assert len(encoding.tokens) > len(words)
    assert SpecialIds.of(trained[kind]).unk not in encoding.ids
    pieces_by_word = {
        word_id: [token for _, token in group]
        for word_id, group in itertools.groupby(
            zip(encoding.word_ids, encoding.tokens), key=lambda item: item[0]
        )
    }
    assert list(pieces_by_word) == [0, 1]  # each word's tokens are contiguous
    for word_id, word in enumerate(words):
        pieces = pieces_by_word[word_id]
        assert len(pieces) > 1
        assert "".join(piece.removeprefix("##").removeprefix("Ġ") for piece in pieces) == word


# Determinism

TRAIN_IN_A_FRESH_PROCESS = """
import json, sys
from txdata.tokenizer import train_tokenizer
corpus = json.loads(open(sys.argv[1], encoding="utf-8").read())
print(json.dumps({kind: train_tokenizer(corpus, kind, 500).to_str()
                  for kind in ("wordpiece", "bpe")}))
"""


def test_training_gives_the_same_tokenizer_in_separate_processes(tmp_path):
    """Tied pair counts are where hash-map order used to leak in, so the corpus has many."""
    corpus = pseudo_word_corpus(seed=1, lines=2000)
    initial_pairs = Counter(
        pair for line in corpus for word in line.split() for pair in itertools.pairwise(word)
    )
    assert len(initial_pairs) > len(set(initial_pairs.values()))  # ties exist
    corpus_path = tmp_path / "corpus.json"
    corpus_path.write_text(json.dumps(corpus), encoding="utf-8")

    runs = []
    for hash_seed in ("1", "2"):
        env = {
            **os.environ,
            "PYTHONHASHSEED": hash_seed,
            "TXDATA_CACHE": str(tmp_path / f"cache-{hash_seed}"),
        }
        command = [sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, str(corpus_path)]
        runs.append(subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE))
    outputs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]

    assert all(run.returncode == 0 for run in runs)
    for kind in ("wordpiece", "bpe"):
        assert Tokenizer.from_str(outputs[0][kind]).get_vocab_size() == 500
        assert outputs[0][kind] == outputs[1][kind]


def test_learn_merges_gives_ties_to_the_lexicographically_smallest_pair():
    alphabet, merges = learn_merges({"cd": 3, "ab": 3, "ef": 3}, max_symbols=8)
    assert alphabet == ["a", "b", "c", "d", "e", "f"]
    assert merges == [("a", "b"), ("c", "d")]


def test_learn_merges_prefers_the_more_frequent_pair_over_a_smaller_one():
    assert learn_merges({"ab": 2, "zy": 5}, max_symbols=5)[1] == [("z", "y")]


def test_learn_merges_never_merges_a_pair_seen_fewer_than_min_count_times():
    assert learn_merges({"ab": 1, "cd": 2}, max_symbols=100)[1] == [("c", "d")]


def test_learn_merges_puts_the_prefix_on_symbols_inside_a_word():
    alphabet, merges = learn_merges({"abc": 4}, max_symbols=100, prefix="##")
    assert alphabet == ["##b", "##c", "a"]
    assert merges == [("##b", "##c"), ("a", "##bc")]
    assert merge_symbols(*merges[-1], "##") == "abc"


def reference_merges(word_counts, max_symbols, prefix, min_count):
    """BPE the slow, obvious way: recount every pair after every merge."""
    words = {word: list(split_word(word, prefix)) for word in word_counts}
    known = {symbol for symbols in words.values() for symbol in symbols}
    merges = []
    while len(known) < max_symbols:
        counts = Counter()
        for word, symbols in words.items():
            for pair in itertools.pairwise(symbols):
                counts[pair] += word_counts[word]
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        if counts[best] < min_count:
            break
        merged = merge_symbols(*best, prefix)
        merges.append(best)
        known.add(merged)
        for word, symbols in words.items():
            out, i = [], 0
            while i < len(symbols):
                if tuple(symbols[i : i + 2]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            words[word] = out
    return merges


word_counts = st.dictionaries(
    st.text("abc", min_size=1, max_size=7), st.integers(1, 6), min_size=1, max_size=12
)


@given(word_counts, st.integers(1, 30), st.sampled_from(["", "##"]), st.integers(1, 3))
@settings(max_examples=200, deadline=None)
def test_learn_merges_matches_a_recount_after_every_merge(counts, max_symbols, prefix, min_count):
    _, merges = learn_merges(counts, max_symbols, prefix, min_count)
    assert merges == reference_merges(counts, max_symbols, prefix, min_count)


@given(word_counts, st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_learn_merges_ignores_the_insertion_order_of_the_counts(counts, rng):
    items = list(counts.items())
    rng.shuffle(items)
    assert learn_merges(dict(items), max_symbols=20) == learn_merges(counts, max_symbols=20)


# Cache


def test_cached_tokenizer_trains_once_then_loads_from_the_cache(monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TXDATA_CACHE", str(cache))

    def never_read():
        raise AssertionError("the corpus was read again: the cache was not used")
        yield

    first = cached_tokenizer(iter(CORPUS), "wordpiece", 100, fingerprint="corpus-1")
    files = list((cache / "tokenizers").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"

    again = cached_tokenizer(never_read(), "wordpiece", 100, fingerprint="corpus-1")
    assert again.to_str() == first.to_str()
    assert SpecialIds.of(again).as_dict() == EXPECTED_IDS

    with pytest.raises(AssertionError, match="cache was not used"):
        cached_tokenizer(never_read(), "wordpiece", 100, fingerprint="corpus-2")
    with pytest.raises(AssertionError, match="cache was not used"):
        cached_tokenizer(never_read(), "wordpiece", 101, fingerprint="corpus-1")


# Loading a user's tokenizer.json


def test_load_tokenizer_of_a_missing_path_raises_tokenizer_error(tmp_path):
    with pytest.raises(TokenizerError, match="does not exist") as info:
        load_tokenizer(tmp_path / "absent.json")
    assert "\n" not in str(info.value)


def test_load_tokenizer_of_a_directory_raises_tokenizer_error(tmp_path):
    with pytest.raises(TokenizerError, match="not a file") as info:
        load_tokenizer(tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "content", ["{not json", '{"vocab": {"a": 0}}', "[]", "", '{"model": {"type": "Nope"}}']
)
def test_load_tokenizer_of_an_invalid_file_raises_a_one_line_tokenizer_error(tmp_path, content):
    path = tmp_path / "tokenizer.json"
    path.write_text(content)
    with pytest.raises(TokenizerError, match=r"is not a valid tokenizer\.json") as info:
        load_tokenizer(path)
    assert "\n" not in str(info.value)


def test_load_tokenizer_adds_missing_special_tokens_after_the_vocabulary(tmp_path):
    foreign = Tokenizer(models.WordLevel({"hello": 0, "world": 1, "<unk>": 2}, unk_token="<unk>"))
    foreign.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "tokenizer.json"
    foreign.save(str(path))

    tokenizer = load_tokenizer(path)
    special = SpecialIds.of(tokenizer)
    assert sorted(special.all()) == list(range(3, 3 + len(SPECIAL_TOKENS)))
    assert special.bos != special.pad
    assert tokenizer.encode("hello world").ids == [0, 1]
