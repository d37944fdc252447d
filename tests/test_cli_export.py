"""`txdata export`, and `show` and `train` with `--source` an export, from the command line."""

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli_errors import one_line_error
from tests.test_overwrite_safety import snapshot

runner = CliRunner()
TINY = ["--d-model", "16", "--heads", "2", "--layers", "1", "--no-plots", "--eval-every", "2"]


def invoke(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "mlm"
    result = invoke("export", "--mode", "mlm", "--length", 10, "--out", out, "--epochs", 2)
    assert result.exit_code == 0, result.output
    return out, result.stdout


def test_export_says_what_it_wrote_and_where_the_readme_is(exported):
    out, printed = exported
    assert f"exported 256 mlm examples (arrow) to {out}" in printed
    assert f"and 2 epochs of 2 batches of up to 128 rows (seed 0) in {out / 'epochs'}" in printed
    assert f"{out / 'README.md'}" in printed
    assert json.loads((out / "data_config.json").read_text())["length"] == 10


def test_show_reads_an_export_back(exported):
    out, _ = exported
    result = invoke("show", "--mode", "mlm", "--source", out, "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["batch"]["input_ids"][0]) == 10  # the export's length


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["export", "--out", "{tmp}/x", "--format", "csv"], 2, "'csv' is not one of 'arrow'"),
        (["export", "--out", "{out}"], 1, "{out} is not empty: pass --overwrite"),
        (["export", "--out", "{tmp}/x", "--epochs", "-1"], 1, "epochs must be 0 or more"),
        (["show", "--mode", "clm", "--source", "{out}"], 1, "holds mlm examples, not clm"),
        (["show", "--source", "{out}", "--length", "20"], 1, "exported with --length 10, not 20"),
        (["show", "--source", "{tmp}/damaged"], 1, "damaged: txdata-export.json is unreadable"),
        (["show", "--mode", "both", "--source", "{pairs}"], 1, "{pairs} is an export of built"),
    ],
)
def test_bad_exports_and_sources_are_one_line_errors(exported, tmp_path, args, code, message):
    out, _ = exported
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "txdata-export.json").write_text("{")
    names = {"tmp": tmp_path, "out": out, "pairs": out.parent / "seq2seq"}
    if "{pairs}" in args and not names["pairs"].exists():
        assert invoke("export", "--mode", "seq2seq", "--out", names["pairs"]).exit_code == 0
    result = invoke(*(arg.format(**names) for arg in args))
    assert message.format(**names) in one_line_error(result, code)


def test_train_on_an_export_records_its_settings_resumes_and_leaves_it_as_it_was(
    exported, tmp_path
):
    out, _ = exported
    before = snapshot(out)
    run = tmp_path / "run"
    steps = ["--steps", 2, "--checkpoint-every", 2]
    result = invoke("train", "--mode", "mlm", "--source", out, *TINY, *steps, "--out", run)
    assert result.exit_code == 0, result.output
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["source"]["source"] == str(out) and data["length"] == 10
    result = invoke("train", "--resume", run, "--steps", 4, "--no-plots")
    assert result.exit_code == 0, result.output
    assert "mlm, step 4" in result.stdout
    assert snapshot(out) == before  # no cache file, nothing at all, was written into it
