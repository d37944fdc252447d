"""Generate ``numbers.jsonl``: English number words paired with their digits.

Each line is ``{"source": "three hundred and forty-two", "target": "342"}``. The corpus holds
every number 0-999 plus 2,000 numbers drawn without replacement from 1000-9999, shuffled. The
spelling is British style: "and" always follows "hundred" when a remainder follows, and joins
"thousand" to a remainder below 100 ("seven thousand and five"); 21-99 compounds are hyphenated.

Stdlib only and deterministic for a given seed. Run from the repository root:

    python3 samples/numbers/make_numbers.py  # writes samples/numbers/numbers.jsonl
    python3 samples/numbers/make_numbers.py --seed 7 --out /tmp/numbers.jsonl  # elsewhere
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

DEFAULT_SEED = 2024
DEFAULT_OUT = Path(__file__).resolve().parent / "numbers.jsonl"
N_LARGE = 2_000  # numbers sampled from 1000..9999

# ONES[n] spells 0..19; TENS[t] spells the multiple of ten t * 10 (t >= 2).
ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

KNOWN = {
    0: "zero",
    7: "seven",
    13: "thirteen",
    20: "twenty",
    21: "twenty-one",
    99: "ninety-nine",
    100: "one hundred",
    101: "one hundred and one",
    110: "one hundred and ten",
    115: "one hundred and fifteen",
    342: "three hundred and forty-two",
    1000: "one thousand",
    1001: "one thousand and one",
    1234: "one thousand two hundred and thirty-four",
    2020: "two thousand and twenty",
    7005: "seven thousand and five",
    9999: "nine thousand nine hundred and ninety-nine",
}


def below_hundred(n: int) -> str:
    """Spell 0..99: "zero".."nineteen", "twenty", "forty-two"."""
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] if ones == 0 else f"{TENS[tens]}-{ONES[ones]}"


def below_thousand(n: int) -> str:
    """Spell 0..999, with "and" between the hundreds and a non-zero remainder."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return below_hundred(rest)
    head = f"{ONES[hundreds]} hundred"
    return head if rest == 0 else f"{head} and {below_hundred(rest)}"


def spell(n: int) -> str:
    """Spell 0..9999 in British English words."""
    if not 0 <= n <= 9999:
        raise ValueError(f"only 0..9999 are supported, got {n}")
    thousands, rest = divmod(n, 1000)
    if thousands == 0:
        return below_thousand(rest)
    head = f"{ONES[thousands]} thousand"
    if rest == 0:
        return head
    # With no hundreds to carry the "and", British usage puts it after "thousand".
    joiner = " and " if rest < 100 else " "
    return head + joiner + below_thousand(rest)


def self_check() -> None:
    """Refuse to write anything if the spelling is wrong or ambiguous."""
    for n, words in KNOWN.items():
        assert spell(n) == words, f"spell({n}) = {spell(n)!r}, expected {words!r}"
    # Distinct numbers must get distinct words, or the words-to-digits mapping is not a function.
    spellings = [spell(n) for n in range(10_000)]
    assert len(set(spellings)) == len(spellings), "two numbers share a spelling"


def numbers(seed: int) -> list[int]:
    """0..999 in full, plus N_LARGE distinct numbers from 1000..9999, in shuffled order."""
    rng = random.Random(seed)
    chosen = list(range(1000)) + rng.sample(range(1000, 10_000), N_LARGE)
    rng.shuffle(chosen)
    return chosen


def render(values: list[int]) -> str:
    lines = [json.dumps({"source": spell(n), "target": str(n)}) for n in values]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()

    self_check()
    values = numbers(args.seed)
    text = render(values)
    assert text.isascii() and len(set(values)) == len(values)
    args.out.write_bytes(text.encode("ascii"))  # bytes: no platform newline translation
    print(f"wrote {args.out}")
    print(f"bytes: {len(text.encode('ascii'))}")
    print(f"pairs: {len(values)} ({sum(n < 1000 for n in values)} below 1000)")
    print(f"longest source: {max(len(spell(n)) for n in values)} characters")


if __name__ == "__main__":
    main()
