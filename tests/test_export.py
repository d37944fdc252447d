"""`export`: an objective's examples on disk that `datasets` loads back as they were built,
epochs of batches that stack back into txdata's batches, a folder written whole that never
replaces somebody else's, and `prepare` reading an export back without building anything."""

import json
import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import datasets
import pytest
import torch

import txdata.export
from tests.test_overwrite_safety import snapshot
from txdata import DataConfig, SourceConfig, prepare
from txdata.errors import ConfigError, OutputError, SourceError
from txdata.export import BATCH_COLUMNS, export
from txdata.exported import exported_config, foreign_files
from txdata.objectives import OBJECTIVES
from txdata.tokenizer import alternating_tokenizer
from txdata.typed_json import from_json

ENGLISH = DataConfig("nsp", SourceConfig("sample:english"), length=24)


def load(folder, storage: str) -> datasets.Dataset:
    """The way any other job loads what export wrote, as the export's README says."""
    if storage == "arrow":
        return datasets.load_from_disk(str(folder))
    return datasets.load_dataset("parquet", data_files=str(folder / "*.parquet"), split="train")


def same(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.fixture(scope="module", params=["arrow", "parquet"])
def exported(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "nsp"
    export(ENGLISH, out, format=request.param, epochs=2, batch_size=16, seed=3)
    return out, request.param


def test_examples_tokenizer_and_config_load_back_as_prepare_built_them(exported):
    out, storage = exported
    data = prepare(ENGLISH)
    assert load(out / "examples", storage).to_dict() == data.examples.to_dict()
    assert (out / "tokenizer.json").read_text() == data.tokenizer.to_str(pretty=True)
    saved = from_json(DataConfig, json.loads((out / "data_config.json").read_text()))
    assert saved == ENGLISH
    manifest = json.loads((out / "txdata-export.json").read_text())
    assert manifest["rows"] == data.examples.num_rows and manifest["storage"] == storage
    assert list(manifest["columns"]) == data.examples.column_names
    assert all(manifest["columns"].values()) and "a_length" in (out / "README.md").read_text()
    assert foreign_files(out) == []


def test_each_epoch_is_the_batches_of_that_epoch_row_by_row(exported):
    out, storage = exported
    data = prepare(ENGLISH)
    for epoch in (0, 1):
        rows = load(out / "epochs" / f"epoch-{epoch}", storage)
        batches = data.batches(16, seed=3, epoch=epoch)
        loader = torch.utils.data.DataLoader(
            rows.with_format("torch").remove_columns("batch"), batch_size=16
        )
        loaded = list(loader)
        assert len(loaded) == len(batches) == rows[-1]["batch"] + 1
        assert all(same(batch, batches[k]) for k, batch in enumerate(loaded))


def test_an_export_read_back_is_the_data_it_was_built_from(exported):
    out, _ = exported
    data, back = prepare(ENGLISH), prepare(DataConfig("nsp", SourceConfig(str(out))))
    assert back.source is None  # nothing was read from text
    assert back.config == replace(ENGLISH, source=replace(ENGLISH.source, source=str(out)))
    assert back.tokenizer.get_vocab(True) == data.tokenizer.get_vocab(True)
    assert back.examples.to_dict() == data.examples.to_dict()
    assert same(back.batches(8, seed=5, epoch=2)[1], data.batches(8, seed=5, epoch=2)[1])
    assert exported_config(back.config) == back.config  # a run that records it reads it again


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_objective_exports_its_columns_described_and_epochs_that_stack_back(name, tmp_path):
    config = DataConfig(name, SourceConfig(count=40))
    result = export(config, tmp_path / name, epochs=1, batch_size=16, seed=1)
    data = prepare(config)
    kind = OBJECTIVES[name]
    assert list(kind.example_columns) == data.examples.column_names  # each one described
    rows = datasets.load_from_disk(str(tmp_path / name / "epochs" / "epoch-0"))
    batches = data.batches(16, seed=1)
    assert result.batches == len(batches) == 3
    for k in range(len(batches)):
        batch = rows.filter(lambda row, k=k: row["batch"] == k).remove_columns("batch")
        stacked = {key: torch.tensor(batch[key]) for key in batch.column_names}
        assert same(stacked, batches[k])
        assert set(stacked) <= set(BATCH_COLUMNS)  # each key described in the README


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="num_proc is capped at the CPUs")
@pytest.mark.parametrize("name", ["nsp", "clm"])
def test_num_proc_builds_the_same_examples(name):
    # The alternating source lives in memory: datasets really runs two processes, no cache.
    config = DataConfig(name, SourceConfig(count=64))
    assert prepare(config, num_proc=2).examples.to_dict() == prepare(config).examples.to_dict()
    for count in (0, 10**6):  # a million processes would start as many as there are rows
        with pytest.raises(ConfigError, match="num proc must lie between 1 and the"):
            prepare(config, num_proc=count)


def test_epochs_that_would_fill_the_disk_are_refused_after_the_first(tmp_path):
    with pytest.raises(OutputError, match=r"epochs need about .* ask for fewer --epochs"):
        export(DataConfig("mlm", SourceConfig(count=16)), tmp_path / "out", epochs=10**15)
    assert not any(tmp_path.iterdir())  # all or nothing


def test_a_folder_that_is_not_an_empty_or_an_export_is_never_replaced(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match="is not empty: pass --overwrite"):
        export(DataConfig("mlm"), tmp_path / "mine")
    with pytest.raises(OutputError, match=r"not a txdata export \(it holds notes.md\)"):
        export(DataConfig("mlm"), tmp_path / "mine", overwrite=True)
    export(DataConfig("mlm"), tmp_path / "old", epochs=1)
    (tmp_path / "old" / "epochs" / "epoch-0" / "notes.md").write_text("mine\n")
    with pytest.raises(OutputError, match=r"did not write \(epochs/epoch-0/notes.md\)"):
        export(DataConfig("mlm"), tmp_path / "old", overwrite=True)
    (tmp_path / "old" / "epochs" / "epoch-0" / "notes.md").unlink()
    export(DataConfig("seq2seq"), tmp_path / "old", overwrite=True)
    assert json.loads((tmp_path / "old" / "txdata-export.json").read_text())["objective"] == (
        "seq2seq"
    )
    assert not (tmp_path / "old" / "epochs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "old"]  # no staging left
    assert {k: v for k, v in snapshot(tmp_path).items() if k.startswith("mine")} == before
    (tmp_path / "empty").mkdir()
    export(DataConfig("mlm"), tmp_path / "empty")  # an empty folder is written into
    assert (tmp_path / "empty" / "txdata-export.json").is_file()


def test_a_failed_export_leaves_nothing_and_the_old_export_whole(tmp_path, monkeypatch):
    export(DataConfig("mlm"), tmp_path / "old")
    before = snapshot(tmp_path)

    def fail(*args, **kwargs):
        raise SourceError("the disk is on fire")

    monkeypatch.setattr(txdata.export, "epoch_rows", fail)
    for out, overwrite in ((tmp_path / "new", False), (tmp_path / "old", True)):
        with pytest.raises(SourceError, match="on fire"):
            export(DataConfig("mlm"), out, epochs=1, overwrite=overwrite)
    assert snapshot(tmp_path) == before


def test_an_export_read_back_refuses_another_objective_other_settings_or_damage(tmp_path):
    out = tmp_path / "mlm"
    export(DataConfig("mlm", length=10), out)
    source = SourceConfig(str(out))
    with pytest.raises(ConfigError, match="holds mlm examples, not seq2seq: use --mode mlm"):
        prepare(DataConfig("seq2seq", source))
    with pytest.raises(ConfigError, match="exported with --length 10, not 20"):
        prepare(DataConfig("mlm", source, length=20))
    assert prepare(DataConfig("mlm", source, length=10)).config.length == 10
    with pytest.raises(SourceError, match="the tokenizer given differs"):
        prepare(DataConfig("mlm", source), tokenizer=alternating_tokenizer("a b"))
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    manifest = json.loads((damaged / "txdata-export.json").read_text())
    (damaged / "txdata-export.json").write_text(json.dumps({**manifest, "rows": 3}))
    with pytest.raises(SourceError, match="damaged: examples/ holds 256 rows"):
        prepare(DataConfig("mlm", SourceConfig(str(damaged))))
    for shard in (damaged / "examples").glob("*.arrow"):
        shard.unlink()
    with pytest.raises(SourceError, match=r"cannot read .* as arrow: no data-"):
        prepare(DataConfig("mlm", SourceConfig(str(damaged))))
    (damaged / "txdata-export.json").write_text("{")
    with pytest.raises(SourceError, match=r"damaged: txdata-export\.json is unreadable"):
        prepare(DataConfig("mlm", SourceConfig(str(damaged))))


def test_the_readme_example_runs(tmp_path, monkeypatch):
    """Its `txdata export` line, then its Python, in a folder of their own."""
    from typer.testing import CliRunner

    from cli.main import app

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Use the data elsewhere\n")[1].split("\n## ")[0]
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exports = [line.split("#")[0].split() for line in commands if line.startswith("txdata export")]
    assert exports
    for command in exports:
        result = CliRunner().invoke(app, command[1:])
        assert result.exit_code == 0, result.output
    exec(compile(code, "README.md", "exec"), {})


def test_what_a_killed_export_left_beside_its_folder_goes_and_nothing_else(tmp_path):
    export(DataConfig("mlm"), tmp_path / "whole")
    shutil.copytree(tmp_path / "whole", tmp_path / ".mlm.txdata-new-kill1")  # a kill's leftover
    (tmp_path / ".mlm.txdata-new-kill1" / ".epoch-0.tmp").write_bytes(b"half an epoch")
    shutil.copytree(tmp_path / "whole", tmp_path / ".mlm.txdata-new-mine")
    (tmp_path / ".mlm.txdata-new-mine" / "notes.md").write_text("mine\n")
    export(DataConfig("mlm"), tmp_path / "mlm")
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [".mlm.txdata-new-mine", "mlm", "whole"]
