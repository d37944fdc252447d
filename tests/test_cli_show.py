"""`txdata show`: what a person and a script see, and how bad input is refused."""

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from txdata.objectives import OBJECTIVES

runner = CliRunner()

SOURCES = [
    ["--pattern", "1 0"],
    ["--pattern", "1 1 0"],
    ["--source", "sample:english"],
    ["--source", "sample:numbers"],
]


@pytest.fixture
def user_text(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text("The cat sat on the mat. It was warm.\n\nThe dog ran home. It was late.\n")
    return ["--source", str(path)]


def show(*args: str):
    return runner.invoke(app, ["show", *args])


@pytest.mark.parametrize("mode", ["mlm", "seq2seq"])
@pytest.mark.parametrize("source", SOURCES)
def test_json_batch_is_consistent_with_its_tokens(mode, source):
    result = show("--mode", mode, *source, "--format", "json", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["mode"] == mode and document["seed"] == 0
    assert document["special_tokens"]["[PAD]"] == 0
    assert document["special_tokens"]["[BOS]"] != document["special_tokens"]["[PAD]"]
    batch, tokens = document["batch"], document["tokens"]
    expected = {"input_ids", "attention_mask", "labels"}
    expected |= (
        {"decoder_input_ids", "decoder_attention_mask"} if mode == "seq2seq" else {"token_type_ids"}
    )
    assert set(batch) == expected
    assert len(batch["input_ids"]) == 3
    for key, rows in tokens.items():
        for ids, strings in zip(batch[key], rows):
            assert [None if i == -100 else i for i in ids] == [
                None if s is None else _id(document, s) for s in strings
            ]
    if mode == "seq2seq":
        for decoder, labels in zip(batch["decoder_input_ids"], batch["labels"]):
            assert decoder[0] == document["special_tokens"]["[BOS]"]
            assert all(d == lab for d, lab in zip(decoder[1:], labels[:-1]) if lab != -100)


def _id(document, token):
    return {**document["special_tokens"], **_vocab(document)}.get(token)


def _vocab(document):
    pairs = {}
    for key, rows in document["tokens"].items():
        for ids, strings in zip(document["batch"][key], rows):
            pairs.update({s: i for i, s in zip(ids, strings) if s is not None})
    return pairs


def test_user_file_in_both_formats(user_text):
    for mode in ("mlm", "seq2seq"):
        table = show("--mode", mode, *user_text)
        assert table.exit_code == 0, table.output
        document = json.loads(show("--mode", mode, *user_text, "--format", "json").stdout)
        assert document["source"] == user_text[1]
    assert "the" in table.stdout and "[BOS]" in table.stdout


@pytest.mark.parametrize("source", SOURCES)
def test_mlm_table_marks_choices_and_sums_up_the_loss(source):
    result = show("--mode", "mlm", *source, "--batch-size", "8", "--mlm-probability", "0.5")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out, "piped output must carry no colour codes"
    assert "[CLS]" in out and "[SEP]" in out and "[MASK]" in out
    assert "-100" in out
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("mlm on ") and "loss on " in summary and "%" in summary


def test_mlm_table_shows_padding_and_each_kind_of_choice():
    result = show("--source", "sample:english", "--length", "64", "--batch-size", "16")
    rows = [line.split() for line in result.stdout.splitlines()]
    chosen = {row[3] for row in rows if len(row) == 5 and row[0].isdigit()}
    assert {"[MASK]", "random", "kept"} <= chosen
    assert any(row[1:3] == ["[PAD]", "0"] for row in rows if len(row) >= 3)


def test_seq2seq_table_has_decoder_columns_and_full_loss():
    result = show("--mode", "seq2seq", "--batch-size", "1", "--length", "6")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[1].split() == [
        "pos",
        "input_ids",
        "attn",
        "decoder_input_ids",
        "dec",
        "attn",
        "labels",
    ]
    assert lines[2].split() == ["0", "1", "1", "[BOS]", "1", "0"]
    assert lines[6].split() == ["4", "[EOS]", "1", "1", "1", "[EOS]"]
    assert "loss on 5 of 10 tokens read (50 %): 5 encoder + 5 decoder" in result.stdout


def test_epoch_and_seed_change_the_masks():
    def labels(*args):
        return json.loads(show("--format", "json", "--batch-size", "8", *args).stdout)["batch"][
            "labels"
        ]

    assert labels("--seed", "0") == labels("--seed", "0")
    assert labels("--seed", "0") != labels("--seed", "1")
    assert labels("--seed", "0") != labels("--seed", "0", "--epoch", "1")


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "latin1.txt").write_bytes("café au lait".encode("latin-1"))
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n\n  \n")
    (tmp_path / "table.csv").write_text("title,body\nhello,world\n")
    (tmp_path / "bad.json").write_text("{ not a tokenizer")
    return tmp_path


BAD_INPUTS = [
    (["--mode", "gpt"], f"unknown mode 'gpt': choose {', '.join(OBJECTIVES)}"),
    (["--source", "sample:nope"], "unknown sample 'nope': choose sample:english, sample:numbers"),
    (["--source", "{tmp}/missing.txt"], "no such file: {tmp}/missing.txt"),
    (["--source", "{tmp}"], "{tmp} is a directory, neither a corpus file nor a txdata export"),
    (["--source", "{tmp}/binary.txt"], "{tmp}/binary.txt is a binary file, not UTF-8 text"),
    (["--source", "{tmp}/latin1.txt"], "{tmp}/latin1.txt is not UTF-8 text (invalid"),
    (["--source", "{tmp}/empty.txt"], "{tmp}/empty.txt is empty"),
    (["--source", "{tmp}/blank.txt"], "{tmp}/blank.txt holds no text"),
    (["--source", "{tmp}/table.csv", "--text-column", "story"], "has no column 'story'"),
    (["--mlm-probability", "1.5"], "mlm probability must lie in [0, 1], got 1.5"),
    (["--mask-probability", "0.9", "--random-probability", "0.2"], "exceed 1"),
    (["--length", "2"], "length 2 is too short"),
    (["--batch-size", "0"], "batch size must be at least 1, got 0"),
    (["--pattern", " "], "the pattern is empty"),
    (["--seed", "-1"], "seed must lie between 0 and 2**63 - 1, got -1"),
    (["--tokenizer", "{tmp}/bad.json"], "{tmp}/bad.json is not a valid tokenizer.json"),
    (["--source", "sample:english", "--tokenizer", "sentencepiece"], "unknown tokenizer"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_gives_one_line_and_exit_code_1(bad_files, args, message):
    args = [arg.format(tmp=bad_files) for arg in args]
    result = show(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message.format(tmp=bad_files) in lines[0]
    assert "Traceback" not in result.output


def test_both_modes_side_by_side_share_the_source():
    result = show("--mode", "both", "--format", "json", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["mode"] == "both"
    seq2seq, mlm = document["seq2seq"]["batch"], document["mlm"]["batch"]
    cls, sep, eos = (document["special_tokens"][t] for t in ("[CLS]", "[SEP]", "[EOS]"))
    mlm_labels = mlm["labels"]
    for s2s_row, mlm_row, labels in zip(seq2seq["input_ids"], mlm["input_ids"], mlm_labels):
        original = [lab if lab != -100 else tok for tok, lab in zip(mlm_row, labels)]
        assert original == [cls, *s2s_row[:-1], sep]  # the same source, aligned
        assert s2s_row[-1] == eos
    # Same seed, same source: the mlm half is the batch `show --mode mlm` prints.
    alone = json.loads(show("--mode", "mlm", "--format", "json", "--batch-size", "2").stdout)
    assert alone["batch"] == mlm


def test_both_modes_table_and_footer():
    result = show("--mode", "both", "--batch-size", "1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "seq2seq on the left, mlm on the right" in out
    assert "s2s in" in out and "dec in" in out and "mlm in" in out and "chosen" in out
    assert "11 source + 11 target" in out and "11 (100 % of target)" in out
    assert "(causal)" in out and "every token, left and right" in out
    assert max(len(line) for line in out.splitlines()) <= 100
