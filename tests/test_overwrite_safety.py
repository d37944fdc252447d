"""`--overwrite`, `--out` and `--png` never touch a file that txdata did not write.

Each case runs in a folder of somebody's files and checks, byte for byte, that every one of
them is still there afterwards.
"""

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import models.transformer
from cli.main import app
from models.checkpoint import load_run
from models.run import train_run
from tests.cli_errors import one_line_error
from tests.test_training import tiny
from txdata.errors import TrainingError

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--count", "32", "--no-plots"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file, folder and link under `root`, with its bytes or target."""
    tree: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            tree[key] = f"-> {os.readlink(path)}"
        elif path.is_file():
            tree[key] = path.read_bytes()
        else:
            tree[key] = "dir"
    return tree


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A user's folder: a thesis, a subfolder, a trained run, and a link to the run."""
    (tmp_path / "thesis.tex").write_text("\\section{Results}\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corpus.txt").write_text("one\n\ntwo\n")
    result = invoke("train", *TINY, "--steps", "2", "--out", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    (tmp_path / "link").symlink_to("run")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("", "is the current directory"),
        (".", "is the current directory"),
        ("data", "is not a txdata run (it holds corpus.txt)"),
        ("link", "is a symbolic link to run"),
        ("thesis.tex", "is a file, not a run directory"),
        ("thesis.tex/run", "Not a directory"),
    ],
)
def test_overwrite_refuses_what_is_not_a_txdata_run(workspace, out, message):
    before = snapshot(workspace)
    result = invoke("train", *TINY, "--steps", "1", "--out", out, "--overwrite")
    assert message in one_line_error(result)
    assert snapshot(workspace) == before


def test_overwrite_refuses_home_root_and_the_folder_holding_the_current_one(workspace, monkeypatch):
    monkeypatch.setenv("HOME", str(workspace / "data"))
    before = snapshot(workspace)
    for out, message in [
        (str(workspace / "data"), "is your home folder"),
        ("/", "holds the current directory"),
        (str(workspace), "is the current directory"),
    ]:
        result = invoke("train", *TINY, "--steps", "1", "--out", out, "--overwrite")
        assert message in one_line_error(result), out
    monkeypatch.chdir(workspace / "data")
    assert "holds the current directory" in one_line_error(
        invoke("train", *TINY, "--steps", "1", "--out", "..", "--overwrite")
    )
    assert snapshot(workspace) == before


def test_a_run_holding_a_users_file_is_not_replaced(workspace):
    (workspace / "run" / "notes.md").write_text("my notes")
    before = snapshot(workspace)
    result = invoke("train", *TINY, "--steps", "1", "--out", "run", "--overwrite")
    assert "holds files txdata did not write (notes.md)" in one_line_error(result)
    assert snapshot(workspace) == before


def test_a_file_of_yours_inside_the_checkpoints_stops_an_overwrite(workspace):
    (workspace / "run" / "checkpoints" / "step-0000002" / "notes.md").write_text("mine")
    before = snapshot(workspace)
    result = invoke("train", *TINY, "--steps", "1", "--out", "run", "--overwrite")
    assert "checkpoints/step-0000002/notes.md" in one_line_error(result)
    assert snapshot(workspace) == before


def test_overwrite_replaces_a_run_and_nothing_else(workspace):
    outside = {k: v for k, v in snapshot(workspace).items() if not k.startswith("run")}
    result = invoke("train", *TINY, "--steps", "3", "--out", "run", "--overwrite")
    assert result.exit_code == 0, result.output
    assert load_run(workspace / "run").step == 3
    after = {k: v for k, v in snapshot(workspace).items() if not k.startswith("run")}
    assert after == outside  # no staging folder left beside it either


def test_a_failed_overwrite_keeps_the_old_run_byte_for_byte(workspace, monkeypatch):
    before = snapshot(workspace)
    real_loss = models.transformer.LMHead.loss
    monkeypatch.setattr(
        models.transformer.LMHead, "loss", lambda *a, **k: real_loss(*a, **k) * float("nan")
    )
    with pytest.raises(TrainingError, match="the run in run was left as it was"):
        train_run(tiny("mlm", steps=4, checkpoint_every=1), Path("run"), overwrite=True)
    assert snapshot(workspace) == before


def test_a_killed_overwrite_leaves_a_staging_folder_the_next_one_removes(workspace):
    leftover = workspace / ".run.txdata-new-abc123"
    shutil.copytree(workspace / "run", leftover)
    result = invoke("train", *TINY, "--steps", "1", "--out", "run", "--overwrite")
    assert result.exit_code == 0, result.output
    assert not leftover.exists() and load_run(workspace / "run").step == 1


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("dangling", "is a symbolic link to nowhere, which is missing"),
        ("/proc/txdata-run", "cannot create run directory /proc/txdata-run"),
    ],
)
def test_out_that_cannot_be_a_folder_is_one_line(workspace, out, message):
    (workspace / "dangling").symlink_to("nowhere")
    before = snapshot(workspace)
    assert message in one_line_error(invoke("train", *TINY, "--steps", "1", "--out", out))
    assert snapshot(workspace) == before


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(workspace):
    before = snapshot(workspace)
    result = invoke("train", *TINY, "--source", "missing.jsonl", "--out", "new-run")
    assert "no such file: missing.jsonl" in one_line_error(result)
    assert snapshot(workspace) == before  # no empty new-run/ left behind
    (workspace / "empty").mkdir()
    result = invoke("train", *TINY, "--source", "missing.jsonl", "--out", "empty")
    assert "no such file" in one_line_error(result)
    assert list((workspace / "empty").iterdir()) == []  # the folder was yours: it stays


def test_compare_out_that_is_a_file_is_one_line(workspace):
    before = snapshot(workspace)
    result = invoke("compare", "--steps", "1", "--d-model", "16", "--out", "thesis.tex")
    assert "thesis.tex/seq2seq: Not a directory" in one_line_error(result)
    assert snapshot(workspace) == before


@pytest.mark.parametrize(
    ("png", "message"),
    [
        ("data", "cannot write data: it is a directory"),
        ("thesis.tex/curves.png", "thesis.tex is a file, not a folder"),
    ],
)
@pytest.mark.parametrize("command", [["plot"], ["attention", "1 0"], ["masks"]])
def test_png_paths_that_cannot_be_written_are_one_line(workspace, command, png, message):
    before = snapshot(workspace)
    run = [] if command == ["masks"] else ["--run", "run"]
    assert message in one_line_error(invoke(*command, *run, "--png", png))
    assert snapshot(workspace) == before
