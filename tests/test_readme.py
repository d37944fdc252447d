"""The README's Quickstart: its two commands are `make demo` and `make test`, and the demo runs."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\n+```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert block, "README has no Quickstart code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_exactly_two_commands():
    assert quickstart_commands() == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()


def test_demo_command_runs_and_shows_both_modes():
    # This environment is already installed: tell make so (-o), and run the demo recipe in it.
    venv = Path(sys.prefix)
    result = subprocess.run(
        ["make", "-s", "demo", f"VENV={venv}", "-o", f"{venv}/.txdata-installed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "mlm on alternating: loss on" in result.stdout
    assert "seq2seq on alternating: loss on" in result.stdout
    assert "[MASK]" in result.stdout and "[BOS]" in result.stdout
    words = " ".join(result.stdout.split())
    assert "exact match 100.0% decoding freely" in words
    assert "0 1 0 1 0 1 0 1 0 1 → 1 0 1 0 1 0 1 0 1 0" in words
