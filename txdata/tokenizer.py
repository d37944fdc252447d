"""Every tokenizer txdata uses is a `tokenizers.Tokenizer` with the special tokens of DESIGN.md.

Kinds:
- `alternating_tokenizer("1 0")`: WordLevel over the symbols of a pattern.
- `train_tokenizer(texts, "wordpiece" | "bpe" | "char", vocab_size)`: learned from a corpus,
  the same for the same corpus and settings (see `subword_merges`).
- `load_tokenizer(path)`: any `tokenizer.json`.

>>> tokenizer = alternating_tokenizer("1 1 0")
>>> tokenizer.get_vocab(with_added_tokens=True)["0"], tokenizer.encode("1 1 0").ids
(7, [8, 8, 7])
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from txdata.errors import ConfigError, TokenizerError, UnknownNameError
from txdata.files import atomic_write_text, cache_dir
from txdata.special_tokens import SPECIAL_TOKENS, UNK
from txdata.subword_merges import learn_merges, merge_symbols, split_word

TRAINED_KINDS = ("wordpiece", "bpe", "char")
WORDPIECE_PREFIX = "##"
_FORMAT_VERSION = 1  # bump when training changes, so cached tokenizers are rebuilt


def alternating_tokenizer(pattern: str) -> Tokenizer:
    """WordLevel over the whitespace-separated symbols of `pattern`, after the special tokens."""
    symbols = sorted(set(pattern.split()))
    if not symbols:
        raise ConfigError("the pattern is empty: give symbols separated by spaces, e.g. '1 0'")
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, *symbols])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return _with_special_tokens(tokenizer)


def encode_texts(tokenizer: Tokenizer, texts: list[str]) -> list:
    """`tokenizer.encode_batch(texts)` without special tokens; a text the tokenizer cannot
    encode (a tokenizer.json with no unknown token to fall back on) is a one-line error."""
    try:
        return tokenizer.encode_batch(texts, add_special_tokens=False)
    except Exception as error:  # tokenizers raises plain Exception
        raise TokenizerError(f"the tokenizer cannot encode this text ({error})") from None


def train_tokenizer(texts: Iterable[str], kind: str, vocab_size: int) -> Tokenizer:
    """Learn a tokenizer of `kind` with at most `vocab_size` tokens, special tokens included.

    Text is lowercased. Digits are split one by one, which makes numbers learnable.
    `char` is a WordPiece whose pieces are single characters, so it keeps word boundaries
    (and whole-word masking works with it).
    """
    if kind not in TRAINED_KINDS:
        raise UnknownNameError(f"unknown tokenizer {kind!r}: choose {', '.join(TRAINED_KINDS)}")
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ConfigError(f"vocab size {vocab_size} leaves no room beside the special tokens")
    tokenizer = _untrained(kind)
    counts = _word_counts(tokenizer, texts)
    if not counts:
        raise ConfigError("cannot train a tokenizer on a corpus with no words")
    room = vocab_size - len(SPECIAL_TOKENS)
    prefix = "" if kind == "bpe" else WORDPIECE_PREFIX
    symbols: Counter[str] = Counter()
    for word, count in counts.items():
        for symbol in split_word(word, prefix):
            symbols[symbol] += count
    if kind == "char":
        # The most frequent characters that fit; rarer ones become [UNK].
        alphabet, merges = sorted(symbols, key=lambda s: (-symbols[s], s))[:room], []
    else:
        # Byte-level BPE starts from all 256 bytes, as GPT-2 does, so any text stays encodable.
        start = set(pre_tokenizers.ByteLevel.alphabet()) if kind == "bpe" else set(symbols)
        if room < len(start):
            raise ConfigError(
                f"vocab size {vocab_size} cannot hold the {len(start)} symbols a {kind} "
                f"tokenizer starts from here, plus {len(SPECIAL_TOKENS)} special tokens"
            )
        alphabet, merges = learn_merges(counts, room, prefix, initial_alphabet=start)
    tokens = [*SPECIAL_TOKENS, *alphabet, *(merge_symbols(*pair, prefix) for pair in merges)]
    vocab: dict[str, int] = {}
    for token in tokens:
        vocab.setdefault(token, len(vocab))
    if kind == "bpe":
        tokenizer.model = models.BPE(vocab, merges, unk_token=UNK)
    else:
        tokenizer.model = models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=1000)
    return _with_special_tokens(tokenizer)


def cached_tokenizer(texts: Iterable[str], kind: str, vocab_size: int, fingerprint: str):
    """`train_tokenizer`, kept in the cache under the corpus fingerprint and settings."""
    key = hashlib.sha256(
        json.dumps([_FORMAT_VERSION, kind, vocab_size, fingerprint]).encode()
    ).hexdigest()[:24]
    path = cache_dir() / "tokenizers" / f"{kind}-{vocab_size}-{key}.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    tokenizer = train_tokenizer(texts, kind, vocab_size)
    save_tokenizer(tokenizer, path)
    return tokenizer


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A user's `tokenizer.json`. Missing special tokens are added after its vocabulary."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(f"tokenizer file {path} does not exist or is not a file")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises plain Exception for any parse error
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TokenizerError(f"{path} is not a valid tokenizer.json ({first_line})") from None
    return _with_special_tokens(tokenizer)


def save_tokenizer(tokenizer: Tokenizer, path: Path) -> None:
    atomic_write_text(path, tokenizer.to_str(pretty=True))


def _untrained(kind: str) -> Tokenizer:
    if kind == "bpe":
        tokenizer = Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.normalizer = normalizers.Lowercase()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        tokenizer.decoder = decoders.ByteLevel()
        return tokenizer
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.BertNormalizer(lowercase=True), normalizers.Replace(Regex(r"\s+"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Digits(individual_digits=True)]
    )
    tokenizer.decoder = decoders.WordPiece(prefix=WORDPIECE_PREFIX)
    return tokenizer


def _word_counts(tokenizer: Tokenizer, texts: Iterable[str]) -> dict[str, int]:
    """How often each pre-tokenized word occurs, using the tokenizer's own normalizer."""
    counts: Counter[str] = Counter()
    for text in texts:
        normalized = tokenizer.normalizer.normalize_str(text)
        counts.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalized))
    return dict(counts)


def _with_special_tokens(tokenizer: Tokenizer) -> Tokenizer:
    """Mark the special tokens as such (never split, skipped when decoding); add missing ones."""
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return tokenizer
