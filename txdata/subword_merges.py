"""Learn BPE merges from word counts, deterministically.

Why not `tokenizers.trainers`? Their BPE and WordPiece trainers break ties between equally
frequent pairs in hash-map order, which changes from process to process: trained twice on
tinyshakespeare (vocab 8,000), the token *sets* differed, not only the ids, so renumbering
afterwards cannot make them agree. Here ties go to the lexicographically smallest pair, so the
same word counts always give the same merges. The result is handed back to a
`tokenizers.models.BPE` or `WordPiece`, which does all the encoding.

>>> learn_merges({"low": 5, "lower": 2, "newest": 6}, max_symbols=12)
(['e', 'l', 'n', 'o', 'r', 's', 't', 'w'], [('w', 'e'), ('l', 'o'), ('e', 'we'), ('ewe', 's')])
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable


def split_word(word: str, prefix: str = "") -> tuple[str, ...]:
    """A word as its initial symbols: `split_word("cat", "##") == ("c", "##a", "##t")`."""
    return (word[0], *(prefix + char for char in word[1:]))


def merge_symbols(left: str, right: str, prefix: str = "") -> str:
    """`merge_symbols("c", "##a", "##") == "ca"`: the right part's prefix goes away."""
    return left + right[len(prefix) :] if prefix and right.startswith(prefix) else left + right


def learn_merges(
    word_counts: dict[str, int],
    max_symbols: int,
    prefix: str = "",
    min_count: int = 2,
    initial_alphabet: Iterable[str] = (),
) -> tuple[list[str], list[tuple[str, str]]]:
    """The alphabet and merges that bring the symbol count up to `max_symbols`.

    Merges are applied most frequent pair first; a pair seen fewer than `min_count` times is
    not a pattern and is never merged. With a `prefix` ("##"), symbols inside a word carry it,
    as WordPiece vocabularies do. `initial_alphabet` joins the corpus's own symbols.
    """
    vocabulary = sorted(word_counts)
    words = [list(split_word(word, prefix)) for word in vocabulary]
    counts = [word_counts[word] for word in vocabulary]
    alphabet = sorted({symbol for symbols in words for symbol in symbols} | set(initial_alphabet))
    known = set(alphabet)

    pair_counts: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
    for index, (symbols, count) in enumerate(zip(words, counts)):
        for pair in itertools.pairwise(symbols):
            pair_counts[pair] += count
            where[pair].add(index)
    # Max-heap by count, ties to the smallest pair. Entries go stale as counts change and are
    # skipped when popped (their count no longer matches).
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while heap and len(known) < max_symbols:
        negative_count, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative_count:
            continue
        if -negative_count < min_count:
            break
        merged = merge_symbols(*pair, prefix)
        merges.append(pair)
        known.add(merged)
        touched: set[tuple[str, str]] = set()
        for index in sorted(where.pop(pair)):
            old = words[index]
            new = _merge_pair(old, pair, merged)
            if len(new) == len(old):
                continue
            for gone in itertools.pairwise(old):
                pair_counts[gone] -= counts[index]
                touched.add(gone)
            for made in itertools.pairwise(new):
                pair_counts[made] += counts[index]
                where[made].add(index)
                touched.add(made)
            words[index] = new
        del pair_counts[pair]
        for changed in touched - {pair}:
            if pair_counts[changed] > 0:
                heapq.heappush(heap, (-pair_counts[changed], changed))
    return alphabet, merges


def _merge_pair(symbols: list[str], pair: tuple[str, str], merged: str) -> list[str]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
