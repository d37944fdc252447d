"""`txdata --help` answers at once because describing the CLI imports no heavy library.

How long it takes is measured by `bench/cli_startup.py`; what a test can hold is the cause.
A fresh interpreter builds the app and the help of every registered command, then reports
which heavy libraries it imported: none may be. It then runs `show`, which imports them, and
reports whether datasets drew progress bars (the app turns them off before datasets loads).
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
import json, sys
import typer.main
from typer.testing import CliRunner
from cli.main import app

heavy = sys.argv[1].split(",")
names = sorted(typer.main.get_command(app).commands)
codes = {name: CliRunner().invoke(app, [name, "--help"]).exit_code for name in names}
codes["--help"] = CliRunner().invoke(app, ["--help"]).exit_code
imported = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
show = CliRunner().invoke(app, ["show", "--mode", "mlm"])
print(json.dumps({
    "commands": names,
    "codes": codes,
    "imported": imported,
    "show_code": show.exit_code,
    "show_stderr": show.stderr,
    "show_imported": sorted({m.split(".")[0] for m in sys.modules} & set(heavy)),
}))
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
        check=True,
    )
    report = json.loads(result.stdout)

    assert {"show", "train", "predict"} <= set(report["commands"])
    assert set(report["codes"].values()) == {0}, report["codes"]
    assert report["imported"] == [], f"--help imported {report['imported']}"
    assert report["show_code"] == 0, report["show_stderr"]
    assert {"torch", "datasets"} <= set(report["show_imported"])  # the check can fail
    assert report["show_stderr"] == "", report["show_stderr"]
