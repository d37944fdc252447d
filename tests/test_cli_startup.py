"""`txdata --help` answers at once because describing the CLI imports no heavy library.

How long it takes is measured by `bench/cli_startup.py`; what a test can hold is the cause.
A fresh interpreter builds the app and the help of every registered command, and notes which
heavy libraries it imported: none may be. Then it runs `txdata show` as the console script
does (`cli.main.run`, which tunes the garbage collector and freezes the heap at exit), and at
exit reports what it imported, on stderr: the only line there, so datasets drew no progress
bars (the app turns them off before datasets loads).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# torch, datasets (with pandas and pyarrow), matplotlib and transformers take seconds to
# import; numpy, a tenth of the help's budget, is left to the commands that use it too.
HEAVY = ("torch", "datasets", "pandas", "pyarrow", "matplotlib", "transformers", "numpy")

EVERY_HELP_THEN_SHOW = """
import atexit, json, sys
import typer.main
from typer.testing import CliRunner
from cli.main import app, run

heavy = set(sys.argv[1].split(","))
def imported():
    return sorted({name.split(".")[0] for name in sys.modules} & heavy)

names = sorted(typer.main.get_command(app).commands)
codes = {name: CliRunner().invoke(app, [name, "--help"]).exit_code for name in names}
codes["--help"] = CliRunner().invoke(app, ["--help"]).exit_code
report = {"commands": names, "codes": codes, "imported": imported()}
atexit.register(lambda: print(json.dumps({**report, "at_exit": imported()}), file=sys.stderr))
sys.argv = ["txdata", "show", "--mode", "mlm", "--format", "json"]
run()
"""


def test_help_imports_no_heavy_library_and_show_draws_no_progress_bars(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "HF_DATASETS_DISABLE_PROGRESS_BARS"
    }
    # Empty caches, so that `show` really maps its dataset (a cached map draws no bar).
    env |= {
        "PYTHONPATH": str(REPO_ROOT),
        "TXDATA_CACHE": str(tmp_path / "txdata"),
        "HF_DATASETS_CACHE": str(tmp_path / "datasets"),
    }
    result = subprocess.run(
        [sys.executable, "-c", EVERY_HELP_THEN_SHOW, ",".join(HEAVY)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # the report alone: no progress bar, no warning
    report = json.loads(lines[0])

    assert {"show", "train", "predict"} <= set(report["commands"])
    assert set(report["codes"].values()) == {0}, report["codes"]
    assert report["imported"] == [], f"--help imported {report['imported']}"
    assert {"torch", "datasets"} <= set(report["at_exit"])  # so the check above can fail
    assert json.loads(result.stdout)["mode"] == "mlm"  # show's output, whole after the freeze
