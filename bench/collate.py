"""Collation speed: txdata against Hugging Face's data collators, on identical token ids.

    python bench/collate.py [--quick]

Needs the `bench` extra (transformers). Both sides start from the same lists of token ids and
return padded int64 tensors with attention masks and labels; clm races
`DataCollatorForLanguageModeling(mlm=False)` on the mlm rows; seq2seq includes
`decoder_input_ids` (HF builds them through a tiny BART model). Timings alternate between the
two tools in the same process; the figures are medians of the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from common import corpus, corpus_name, hf_tokenizer, packed_windows, prepared

from txdata import DataConfig, MaskingConfig, SourceConfig, prepare
from txdata.collate import batch_generator
from txdata.objectives import OBJECTIVES
from txdata.objectives.clm import CausalLM
from txdata.objectives.mlm import MaskedLM
from txdata.objectives.seq2seq import Seq2Seq

BATCH = 32


def offsets_from_words(word_ids: list[int]) -> list[tuple[int, int]]:
    """Character offsets that tell HF the same words our word ids do.

    HF's whole-word masking reads word boundaries from `offset_mapping`: a token that starts
    where the previous one ended continues its word. Special tokens get (0, 0).
    """
    offsets, cursor, previous = [], 0, None
    for word in word_ids:
        if word < 0:
            offsets.append((0, 0))
            continue
        cursor += 0 if word == previous else 1  # a gap before each new word
        offsets.append((cursor, cursor + 1))
        cursor, previous = cursor + 1, word
    return offsets


def hf_wwm_batch(ids: list[list[int]], words: list[list[int]]) -> list[dict]:
    """HF features with `offset_mapping`, which HF does not pad: padded here, with (0, 0)."""
    width = max(map(len, ids))
    return [
        {"input_ids": row, "offset_mapping": offsets_from_words(w) + [(0, 0)] * (width - len(w))}
        for row, w in zip(ids, words)
    ]


def examples_per_second(collate, batches: list, repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for index, batch in enumerate(batches):
            collate(batch, index)
        timings.append(len(batches) * BATCH / (time.perf_counter() - started))
    return timings


def race(name: str, ours, theirs, batches_ours, batches_theirs, repeats: int) -> dict:
    """Alternate the two tools, one repeat each at a time, so drift hits both alike."""
    mine, hf = [], []
    for _ in range(repeats):
        mine += examples_per_second(ours, batches_ours, 1)
        hf += examples_per_second(theirs, batches_theirs, 1)
    row = {"case": name, "txdata": statistics.median(mine), "hf": statistics.median(hf)}
    row["ratio"] = row["txdata"] / row["hf"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and repeats")
    quick = parser.parse_args().quick
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        DataCollatorForLanguageModeling,
        DataCollatorForSeq2Seq,
    )

    count, repeats = (20, 5) if quick else (100, 7)
    source = SourceConfig(corpus())
    mlm_data = prepared(128)
    tokenizer = mlm_data.tokenizer
    hf = hf_tokenizer(tokenizer)
    ids, words = packed_windows(mlm_data, count * BATCH)
    ours_batches = [{"input_ids": ids[i : i + BATCH]} for i in range(0, len(ids), BATCH)]
    hf_batches = [
        [{"input_ids": row} for row in ids[i : i + BATCH]] for i in range(0, len(ids), BATCH)
    ]

    results = []
    mlm = MaskedLM(tokenizer, 128)
    hf_mlm = DataCollatorForLanguageModeling(hf, mlm_probability=0.15, return_tensors="pt")
    results.append(
        race(
            "mlm",
            lambda b, i: mlm.collate(b, batch_generator(0, 0, i)),
            lambda b, i: hf_mlm(b),
            ours_batches,
            hf_batches,
            repeats,
        )
    )

    ours_wwm = [
        {"input_ids": ids[i : i + BATCH], "word_ids": words[i : i + BATCH]}
        for i in range(0, len(ids), BATCH)
    ]
    hf_wwm_batches = [
        hf_wwm_batch(ids[i : i + BATCH], words[i : i + BATCH]) for i in range(0, len(ids), BATCH)
    ]
    wwm = MaskedLM(tokenizer, 128, MaskingConfig(whole_word=True))
    hf_wwm = DataCollatorForLanguageModeling(
        hf, whole_word_mask=True, mlm_probability=0.15, return_tensors="pt"
    )
    results.append(
        race(
            "mlm whole-word",
            lambda b, i: wwm.collate(b, batch_generator(0, 0, i)),
            lambda b, i: hf_wwm(b),
            ours_wwm,
            hf_wwm_batches,
            repeats,
        )
    )

    # Causal LM on the very rows the mlm race used: pad, and labels = inputs with -100 on pad.
    clm = CausalLM(tokenizer, 128)
    hf_clm = DataCollatorForLanguageModeling(hf, mlm=False, return_tensors="pt")
    results.append(
        race(
            "clm",
            lambda b, i: clm.collate(b),
            lambda b, i: hf_clm(b),
            ours_batches,
            hf_batches,
            repeats,
        )
    )

    pairs = prepare(DataConfig(objective="seq2seq", source=source, length=48), tokenizer=tokenizer)
    pair_rows = pairs.examples.select(range(min(count * BATCH, pairs.examples.num_rows)))
    sources, targets = list(pair_rows["input_ids"]), list(pair_rows["labels"])
    ours_s2s = [
        {"input_ids": sources[i : i + BATCH], "labels": targets[i : i + BATCH]}
        for i in range(0, len(sources), BATCH)
    ]
    hf_s2s_batches = [
        [
            {"input_ids": s, "labels": t}
            for s, t in zip(sources[i : i + BATCH], targets[i : i + BATCH])
        ]
        for i in range(0, len(sources), BATCH)
    ]
    special = pairs.objective.special
    bart = BartForConditionalGeneration(
        BartConfig(
            vocab_size=tokenizer.get_vocab_size(),
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            pad_token_id=special.pad,
            bos_token_id=special.bos,
            eos_token_id=special.eos,
            decoder_start_token_id=special.bos,
        )
    )
    s2s = Seq2Seq(tokenizer, 48)
    hf_s2s = DataCollatorForSeq2Seq(hf, model=bart, return_tensors="pt")
    results.append(
        race(
            "seq2seq",
            lambda b, i: s2s.collate(b),
            lambda b, i: hf_s2s(b),
            ours_s2s,
            hf_s2s_batches,
            repeats,
        )
    )

    objectives = every_objective(tokenizer, source, count, repeats, ours_wwm)

    print(f"corpus {corpus_name()}, batch {BATCH}, torch threads {torch.get_num_threads()}")
    print(f"{'case':<16} {'txdata ex/s':>12} {'HF ex/s':>10} {'ratio':>7}")
    for row in results:
        print(
            f"{row['case']:<16} {row['txdata']:>12,.0f} {row['hf']:>10,.0f} {row['ratio']:>6.1f}×"
        )
    print()
    print(
        "every objective on its own examples of the corpus at --length 128, against mlm on "
        "full 128-token rows (goal: ≥ 0.50×)"
    )
    print(f"{'objective':<16} {'ex/s':>12} {'tokens/row':>11} {'× mlm':>7}")
    for row in objectives:
        print(
            f"{row['objective']:<16} {row['examples_per_second']:>12,.0f} "
            f"{row['tokens_per_row']:>11.1f} {row['of_mlm']:>6.2f}×"
        )
    document = {"bench": "collate", "batch": BATCH, "results": results, "objectives": objectives}
    print(json.dumps(document))


def every_objective(
    tokenizer, source: SourceConfig, count: int, repeats: int, full_rows: list[dict]
) -> list[dict]:
    """Each registered objective's collation of its own examples of one corpus, against mlm's
    on `full_rows` (packed 128-token rows, with word ids): the strictest baseline, since
    mlm's own rows of a corpus of short documents are mostly short.

    Rows differ by objective (t5 packs 141 raw tokens per row, seq2seq pairs are short), so
    the real tokens a row holds are printed beside the rate. The cases alternate within each
    repeat, so drift hits them alike."""
    batches = {"mlm (full rows)": (MaskedLM(tokenizer, 128), full_rows)}
    for name in OBJECTIVES:
        data = prepare(DataConfig(objective=name, source=source, length=128), tokenizer=tokenizer)
        rows = data.examples.select(range(min(count * BATCH, data.examples.num_rows)))[:]
        size = len(rows["input_ids"])
        batches[name] = (
            data.objective,
            [
                {key: value[i : i + BATCH] for key, value in rows.items()}
                for i in range(0, size, BATCH)
            ],
        )
    rates = {name: [] for name in batches}
    tokens = {}
    for _ in range(repeats):
        for name, (objective, its_batches) in batches.items():
            collate = lambda b, i, o=objective: o.collate(b, batch_generator(0, 0, i))  # noqa: E731
            rates[name] += examples_per_second(collate, its_batches, 1)
            first = collate(its_batches[0], 0)
            read = sum(float(v.sum()) for k, v in first.items() if k.endswith("attention_mask"))
            tokens[name] = read / len(first["input_ids"])
    baseline = statistics.median(rates["mlm (full rows)"])
    return [
        {
            "objective": name,
            "examples_per_second": statistics.median(rates[name]),
            "tokens_per_row": tokens[name],
            "of_mlm": statistics.median(rates[name]) / baseline,
        }
        for name in batches
    ]


if __name__ == "__main__":
    main()
