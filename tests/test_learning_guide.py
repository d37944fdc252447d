"""Every command in docs/learning-guide.md exists and runs, at a tiny size."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).parents[1]
GUIDE = ROOT / "docs" / "learning-guide.md"
# Small and quick; placed before the guide's own options, so those win where both are set...
SMALL = ["--d-model", "16", "--heads", "2", "--count", "40"]
# ...except for the budget, which always shrinks.
SHORT = ["--steps", "2", "--eval-every", "1"]


def guide_commands() -> list[list[str]]:
    lines = [line[2:] for line in GUIDE.read_text().splitlines() if line.startswith("$ ")]
    return [shlex.split(line) for line in lines]


def test_the_guide_shows_commands_for_every_question():
    commands = [" ".join(command) for command in guide_commands()]
    for expected in (
        "embeddings.py",
        "--positional none",
        "positions.py",
        "attention_scale.py",
        "fixed_vector.py",
        "attention --run",
        "induction.py",
        "masks",
        "show --mode both",
        "compare",
        "--labels-as-decoder-input",
        "leaky.py",
        "gradcheck",
        "--backprop manual",
        "sequence_length.py",
        "calibration.py",
    ):
        assert any(expected in command for command in commands), expected


def test_every_guide_command_runs_at_a_tiny_size(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ and docs/guide/img/ land here
    (tmp_path / "docs" / "guide" / "img").mkdir(parents=True)
    runner = CliRunner()
    for command in guide_commands():
        if command[0] == "python":
            script = ROOT / command[1]
            result = subprocess.run(
                [sys.executable, str(script), "--quick"], capture_output=True, text=True
            )
            assert result.returncode == 0, result.stderr
            continue
        assert command[0] == "txdata"
        name, options = command[1], command[2:]
        if name in ("train", "compare"):
            options = [*SMALL, *options, *SHORT]
        if name == "train":
            options.append("--no-plots")  # drawing is tested elsewhere, and slow
        result = runner.invoke(app, [name, *options])
        if result.exit_code != 0:
            pytest.fail(f"{' '.join(command)} failed: {result.output}")
