"""Build time and peak memory against corpus size: mlm and seq2seq examples from 1, 10, 100 MB.

    python bench/scale.py [--quick]

The corpus (tinyshakespeare, else the English sample) is repeated, blank-line separated, up to
each size. One WordPiece tokenizer (vocab 8,000) is trained once and handed to every build, so
the figures time example building alone: read the file with `datasets`, tokenize with
`map(batched=True)`, cut mlm windows of 128 tokens or seq2seq next-sentence pairs of 48.

The reference for mlm is HF's `run_mlm.py` recipe on the same file: `load_dataset("text")`,
tokenize with the same tokenizer as a `PreTrainedTokenizerFast`, then `group_texts` into
128-token blocks. HF has no standard recipe for seq2seq pairs, so seq2seq has txdata's figures
alone.

Every build runs in a fresh process with empty `datasets` and txdata caches, so nothing is
reused and its memory is its own; the tools alternate, one build each at a time. A child that
only imports shows each tool's baseline (txdata brings torch). Two memory figures:
- peak RSS: the most resident memory at once, memory-mapped Arrow files included. `datasets`
  reads its cache files through memory maps, so this part grows with the corpus, but the
  kernel can drop those pages at will;
- peak anon: anonymous memory alone (Python objects, buffers), what would run out first.

Linearity is judged on CPU seconds: wall time on a shared 2-core machine moves with whatever
else runs (the load average is printed). Figures are medians of 5 repeats (memory: the largest)
except at 100 MB, built once: its three builds alone take about 8 minutes, the full run about
15. `--quick` builds 1 and 10 MB once, in about a minute and a half.

Goals (issue 5): time grows linearly (CPU seconds per MB at the largest size at most 1.2 × that
at the size below), and peak RSS stays under 1 GB (1,000 MB) at 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# Heavy imports (torch, datasets, transformers) happen inside the builders: each child process
# imports only what its own tool needs, so that its memory is its own.

LENGTHS = {"mlm": 128, "seq2seq": 48}  # tokens per row, as bench/collate.py uses
LINEAR_SLACK = 1.2  # CPU seconds per MB may grow this much from one size to the next
RSS_GOAL_MB = 1000


def txdata_builder(mode: str, tokenizer_file: str) -> Callable[[str], int]:
    """Import txdata and load the tokenizer; return `build(corpus) -> examples built`."""
    from tokenizers import Tokenizer

    from txdata import DataConfig, SourceConfig, prepare

    tokenizer = Tokenizer.from_file(tokenizer_file)

    def build(corpus: str) -> int:
        config = DataConfig(objective=mode, source=SourceConfig(corpus), length=LENGTHS[mode])
        return prepare(config, tokenizer=tokenizer).examples.num_rows

    return build


def reference_builder(tokenizer_file: str) -> Callable[[str], int]:
    """HF's `run_mlm.py` recipe, without padding or masking (the collator does those)."""
    import datasets
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_file=tokenizer_file)

    def tokenize(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        return tokenizer(batch["text"], return_special_tokens_mask=True)

    def build(corpus: str) -> int:
        lines = datasets.load_dataset("text", data_files=corpus, split="train")
        tokens = lines.map(tokenize, batched=True, remove_columns=["text"])
        return tokens.map(group_texts, batched=True).num_rows

    return build


def group_texts(
    batch: dict[str, list[list[int]]], block: int = LENGTHS["mlm"]
) -> dict[str, list[list[int]]]:
    """Run a batch's rows together and cut them into blocks; the remainder is dropped.

    >>> group_texts({"input_ids": [[1, 2, 3], [4, 5], [6, 7]]}, block=2)
    {'input_ids': [[1, 2], [3, 4], [5, 6]]}
    """
    blocks = {}
    for key, rows in batch.items():
        joined = [token for row in rows for token in row]
        end = len(joined) // block * block
        blocks[key] = [joined[i : i + block] for i in range(0, end, block)]
    return blocks


BUILDERS = {
    "txdata mlm": partial(txdata_builder, "mlm"),
    "HF mlm": reference_builder,
    "txdata seq2seq": partial(txdata_builder, "seq2seq"),
}


def memory_mb() -> dict[str, float]:
    """This process's memory in MB (10⁶ bytes), from Linux's /proc/self/status.

    >>> memory_mb()
    {'VmHWM': 548.2, 'RssAnon': 260.1}

    VmHWM is the peak RSS. Not `getrusage(...).ru_maxrss`: a process keeps that figure across
    exec, so a child would report at least the size of the parent that started it, torch and all.
    """
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon"):
            fields[key] = int(value.split()[0]) * 1024 / 1e6  # given in KiB
    return fields


def watch_anon_peak(peak: list[float]) -> None:
    """Keep `peak[0]` at the most anonymous memory seen; Linux keeps no peak of it itself."""
    while True:
        peak[0] = max(peak[0], memory_mb()["RssAnon"])
        time.sleep(0.01)


def child(tool: str, tokenizer_file: str, corpus: str | None) -> None:
    """Inside a fresh process: build once (or only import, with no corpus), print one result."""
    anon_peak = [0.0]
    threading.Thread(target=watch_anon_peak, args=(anon_peak,), daemon=True).start()
    build = BUILDERS[tool](tokenizer_file)
    started, cpu_started = time.perf_counter(), time.process_time()
    examples = build(corpus) if corpus else 0
    result = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,  # all threads: tokenizers uses several
        "examples": examples,
        "peak_rss_mb": memory_mb()["VmHWM"],
        "peak_anon_mb": max(anon_peak[0], memory_mb()["RssAnon"]),
    }
    print(json.dumps(result))


def measure(tool: str, tokenizer_file: str, corpus: str | None = None) -> dict:
    """One build in a fresh process with empty caches.

    >>> measure("txdata mlm", "tokenizer.json", "corpus-1mb.txt")
    {'seconds': 0.7, 'cpu_seconds': 0.8, 'examples': 6678, 'peak_rss_mb': 373.4,
     'peak_anon_mb': 262.0}
    """
    with tempfile.TemporaryDirectory(prefix="txdata-scale-cache-") as cache:
        # datasets reads its cache folder when it is imported: set it before the child starts.
        env = {
            **os.environ,
            "HF_DATASETS_CACHE": f"{cache}/datasets",
            "TXDATA_CACHE": f"{cache}/txdata",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
        }
        command = [sys.executable, __file__, "--child", tool, "--tokenizer", tokenizer_file]
        command += ["--corpus", corpus] if corpus else []
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed on {corpus}:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def write_corpus(text: str, megabytes: int, path: Path) -> Path:
    """`megabytes` × 10⁶ bytes or a little less: `text` repeated, cut at a blank line."""
    block = (text.strip() + "\n\n").encode()
    copies, rest = divmod(megabytes * 1_000_000, len(block))
    with path.open("wb") as handle:
        for _ in range(copies):
            handle.write(block)
        handle.write(block[:rest].rsplit(b"\n\n", 1)[0])
    return path


def base_text(corpus: str) -> str:
    """The text of `common.corpus()`: a file path or `sample:NAME`."""
    from txdata.samples import sample_path

    name = corpus.removeprefix("sample:")
    return (sample_path(name) if name != corpus else Path(corpus)).read_text()


def summarize(runs: list[dict], megabytes: int) -> dict:
    """Medians over the repeats of one tool at one size; memory is the largest seen."""
    seconds = statistics.median(run["seconds"] for run in runs)
    return {
        "seconds": seconds,
        "cpu_seconds": statistics.median(run["cpu_seconds"] for run in runs),
        "mb_per_s": megabytes / seconds,
        "examples": runs[0]["examples"],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "peak_anon_mb": max(run["peak_anon_mb"] for run in runs),
        "repeats": len(runs),
    }


def growth(figures: dict[int, dict], key: str = "cpu_seconds") -> float:
    """Seconds per MB at the largest size over that at the size below it: 1.0 is linear.

    Not over the smallest size: at 1 MB, fixed costs (datasets setting up a builder) still
    weigh, and they would hide a growth.
    """
    below, largest = sorted(figures)[-2:]
    return (figures[largest][key] / largest) / (figures[below][key] / below)


def result_rows(table: dict[str, dict[int, dict]]) -> list[dict]:
    """One row per size and mode: txdata's figures, then HF's and their ratio where HF has a
    recipe (mlm). For example, at 1 MB:

    {"megabytes": 1, "mode": "mlm", "seconds": 0.7, "cpu_seconds": 0.8, "mb_per_s": 1.4,
     "examples": 6678, "peak_rss_mb": 373, "peak_anon_mb": 262, "repeats": 5,
     "hf_seconds": 1.6, "hf_peak_rss_mb": 189, "hf_peak_anon_mb": 120, "ratio": 2.2}
    """
    rows = []
    for size in sorted(table["txdata mlm"]):
        for mode in LENGTHS:
            row = {"megabytes": size, "mode": mode, **table[f"txdata {mode}"][size]}
            theirs = table.get(f"HF {mode}", {}).get(size)
            if theirs:
                row["hf_seconds"] = theirs["seconds"]
                row["hf_peak_rss_mb"] = theirs["peak_rss_mb"]
                row["hf_peak_anon_mb"] = theirs["peak_anon_mb"]
                row["ratio"] = theirs["seconds"] / row["seconds"]  # > 1: txdata is faster
            rows.append(row)
    return rows


def print_table(corpus: str, baseline: dict, rows: list[dict]) -> None:
    print(f"corpus {corpus}, repeated; each build in a fresh process with empty caches")
    print(
        "after imports alone: "
        + ", ".join(
            f"{name} peak RSS {figures['peak_rss_mb']:.0f} MB, anon {figures['peak_anon_mb']:.0f}"
            for name, figures in baseline.items()
        )
        + " (txdata imports torch)"
    )
    print(
        f"{'MB':>4} {'mode':<8} {'repeats':>7} {'seconds':>8} {'CPU s':>7} {'MB/s':>5}"
        f" {'examples':>9} {'RSS MB':>6} {'anon':>5} {'HF s':>7} {'HF RSS':>6} {'HF/txdata':>9}"
    )
    for row in rows:
        line = (
            f"{row['megabytes']:>4} {row['mode']:<8} {row['repeats']:>7} {row['seconds']:>8.2f}"
            f" {row['cpu_seconds']:>7.2f} {row['mb_per_s']:>5.2f} {row['examples']:>9,}"
            f" {row['peak_rss_mb']:>6.0f} {row['peak_anon_mb']:>5.0f}"
        )
        if "ratio" in row:
            line += (
                f" {row['hf_seconds']:>7.2f} {row['hf_peak_rss_mb']:>6.0f} {row['ratio']:>8.2f}×"
            )
        else:
            line += f" {'—':>7} {'—':>6} {'—':>9}"  # HF has no standard seq2seq recipe
        print(line)


def check_goals(table: dict[str, dict[int, dict]]) -> dict:
    """Print CPU seconds per MB at each size, the growth, and whether the goals are met."""
    sizes = sorted(table["txdata mlm"])
    print(
        f"\n{'CPU s per MB':<16}"
        + "".join(f"{f'{s} MB':>8}" for s in sizes)
        + f"  growth {sizes[-2]}→{sizes[-1]} MB (wall)"
    )
    growths = {tool: growth(figures) for tool, figures in table.items()}
    for tool, figures in table.items():
        per_mb = "".join(f"{figures[s]['cpu_seconds'] / s:>8.3f}" for s in sizes)
        print(f"{tool:<16}{per_mb}{growths[tool]:>8.2f} ({growth(figures, 'seconds'):.2f})")

    largest = sizes[-1]
    linear = all(growths[f"txdata {mode}"] <= LINEAR_SLACK for mode in LENGTHS)
    peak = max(table[f"txdata {mode}"][largest]["peak_rss_mb"] for mode in LENGTHS)
    print(
        f"\ngoal: time grows linearly (txdata CPU growth ≤ {LINEAR_SLACK}): "
        f"{'met' if linear else 'NOT met'}"
    )
    note = "" if largest == 100 else " (a quick run stops short of 100 MB)"
    print(
        f"goal: txdata peak RSS < {RSS_GOAL_MB} MB at {largest} MB: {peak:.0f} MB, "
        f"{'met' if peak < RSS_GOAL_MB else 'NOT met'}{note}"
    )
    return {"growth": growths, "linear": linear, "rss_under_1gb": peak < RSS_GOAL_MB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 and 10 MB, one repeat")
    parser.add_argument("--child", choices=BUILDERS, help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tokenizer, args.corpus)
        return
    from common import corpus, corpus_name, prepared

    repeats = {1: 1, 10: 1} if args.quick else {1: 5, 10: 5, 100: 1}
    load_before = os.getloadavg()[0]
    table: dict[str, dict[int, dict]] = {tool: {} for tool in BUILDERS}
    with tempfile.TemporaryDirectory(prefix="txdata-scale-") as folder:
        tokenizer_file = f"{folder}/tokenizer.json"
        prepared(LENGTHS["mlm"]).tokenizer.save(tokenizer_file)
        baseline = {name: measure(f"{name} mlm", tokenizer_file) for name in ("txdata", "HF")}
        text = base_text(corpus())
        for size, count in repeats.items():
            path = str(write_corpus(text, size, Path(folder) / f"corpus-{size}mb.txt"))
            runs: dict[str, list[dict]] = {tool: [] for tool in BUILDERS}
            for repeat in range(count):
                for tool in BUILDERS:  # alternate the tools, so that drift hits them alike
                    runs[tool].append(measure(tool, tokenizer_file, path))
                    print(f"{size} MB, {tool}, repeat {repeat + 1}/{count}", file=sys.stderr)
            for tool, tool_runs in runs.items():
                table[tool][size] = summarize(tool_runs, size)
    load = {"before": load_before, "after": os.getloadavg()[0]}
    rows = result_rows(table)
    print_table(corpus_name(), baseline, rows)
    print(
        f"load average (1 min) before {load['before']:.1f}, after {load['after']:.1f}; quiet, "
        "it reads about 0 before and 1 to 2 after: more means other work shared the cores"
    )
    goals = check_goals(table)
    summary = {"bench": "scale", "corpus": corpus_name(), "load_average": load}
    summary |= {"baseline": baseline, "rows": rows}
    print(json.dumps(summary | goals))


if __name__ == "__main__":
    main()
