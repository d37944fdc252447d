"""How fast the `txdata` command answers: `--help`, every `CMD --help`, and `show`.

    python bench/cli_startup.py [--quick]

Each command runs as a fresh process, as the installed `txdata` script runs it, and the wall
time covers start to exit. The commands alternate round by round, so that drift on the machine
hits all alike; the figures are the median and range of the rounds. The reference is
`python -c "import torch"` in the same rounds; `python -c "import torch, datasets"` beside it
is what `show` cannot do without, since it builds real batches (torch tensors from a datasets
pipeline). `show, Python's gc settings` runs the app without what `run()` sets first (rarer
garbage collections, none of the heap at exit), to show what that saves. Caches live in a
temporary folder, warmed by one run of each command first, and Python caches bytecode.
Goals (issue 15): each `--help` ≤ 0.5 s; `txdata show` ≤ 1.3 × `import torch`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer.main

from cli.main import app

ROOT = Path(__file__).parents[1]
TXDATA = [sys.executable, "-c", "import sys; from cli.main import run; sys.exit(run())"]
"""What the installed `txdata` script runs."""
DEFAULT_COLLECTOR = [sys.executable, "-c", "from cli.main import app; app()", "show"]
"""`show` without `run()`'s settings of the garbage collector (see `cli.main.run`)."""
HELP_GOAL, SHOW_GOAL = 0.5, 1.3


def commands() -> dict[str, list[str]]:
    """Label -> command line: every help the app has, `show`, and the two references."""
    names = sorted(typer.main.get_command(app).commands)
    cases = {"txdata --help": [*TXDATA, "--help"]}
    cases |= {f"txdata {name} --help": [*TXDATA, name, "--help"] for name in names}
    cases["txdata show"] = [*TXDATA, "show"]
    cases["txdata show, Python's gc settings"] = DEFAULT_COLLECTOR
    cases['python -c "import torch"'] = [sys.executable, "-c", "import torch"]
    cases['python -c "import torch, datasets"'] = [sys.executable, "-c", "import torch, datasets"]
    return cases


def wall_time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(cases: dict[str, list[str]], rounds: int, env: dict[str, str]) -> dict[str, list]:
    """Seconds of each case per round, after one warm-up round that fills the caches."""
    for command in cases.values():
        wall_time(command, env)
    seconds: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(rounds):
        for label, command in cases.items():
            seconds[label].append(wall_time(command, env))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    rounds = 3 if parser.parse_args().quick else 10
    with tempfile.TemporaryDirectory(prefix="txdata-startup-") as cache:
        # Bytecode is cached, as for an installed package (pip compiles it at install time).
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env |= {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "TXDATA_CACHE": os.path.join(cache, "txdata"),
            "HF_DATASETS_CACHE": os.path.join(cache, "datasets"),
        }
        seconds = measure(commands(), rounds, env)
    median = {label: statistics.median(values) for label, values in seconds.items()}
    torch_alone = median['python -c "import torch"']
    print(f"wall seconds from start to exit, each a fresh process; {rounds} rounds")
    print(f"{'command':<38} {'median':>7} {'range':>13}  goal")
    for label, values in seconds.items():
        if label.endswith("--help"):
            goal = f"≤ {HELP_GOAL} s: {'met' if median[label] <= HELP_GOAL else 'NOT met'}"
        else:
            goal = f"{median[label] / torch_alone:.2f} × import torch"
        span = f"{min(values):.2f}-{max(values):.2f}"
        print(f"{label:<38} {median[label]:>7.2f} {span:>13}  {goal}")
    helps = [label for label in seconds if label.endswith("--help")]
    slowest = max(helps, key=median.__getitem__)
    ratio = median["txdata show"] / torch_alone
    floor = median['python -c "import torch, datasets"'] / torch_alone
    print(f"slowest help: {slowest}, {median[slowest]:.2f} s (goal ≤ {HELP_GOAL} s)")
    print(
        f"txdata show: {ratio:.2f} × import torch (goal ≤ {SHOW_GOAL}×): "
        f"{'met' if ratio <= SHOW_GOAL else 'NOT met'}; importing torch and datasets alone "
        f"takes {floor:.2f} ×"
    )
    results = {
        label: {"median": median[label], "min": min(values), "max": max(values)}
        for label, values in seconds.items()
    }
    print(json.dumps({"bench": "cli_startup", "rounds": rounds, "results": results}))


if __name__ == "__main__":
    main()
