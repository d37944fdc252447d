import itertools
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path

import datasets
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txdata import ConfigError, SourceConfig, SourceError, UnknownNameError, load_source
from txdata.samples import sample_names, sample_path, samples_dir
from txdata.sources import Source


def infinite_slice(pattern: str, start: int, length: int) -> str:
    """Symbols `start` … `start + length - 1` of the pattern repeated forever."""
    endless = itertools.cycle(pattern.split())
    return " ".join(itertools.islice(endless, start, start + length))


def load_file(path: Path, **options) -> Source:
    return load_source(SourceConfig(str(path), **options))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@contextmanager
def raises_one_line(error_type: type[Exception], match: str):
    """`pytest.raises` that also checks the message fits on one line, as the CLI prints it."""
    with pytest.raises(error_type, match=match) as info:
        yield info
    assert "\n" not in str(info.value)


# The alternating sequence

patterns = st.lists(st.sampled_from(["0", "1", "2", "x"]), min_size=1, max_size=4).map(" ".join)
alternating_settings = {
    "pattern": patterns,
    "window": st.integers(1, 8),
    "count": st.integers(1, 6),
    "offset": st.integers(0, 20),
}


def test_alternating_windows_of_1_0_alternate_their_first_symbol():
    source = load_source(SourceConfig(pattern="1 0", count=3), window=4)
    assert source.texts()["text"] == ["1 0 1 0", "0 1 0 1", "1 0 1 0"]


def test_alternating_shift_pairs_of_1_1_0():
    source = load_source(SourceConfig(pattern="1 1 0", count=2, task="shift"), window=4)
    assert source.pairs().to_list() == [
        {"source": "1 1 0 1", "target": "1 0 1 1"},
        {"source": "1 0 1 1", "target": "0 1 1 0"},
    ]


def test_alternating_continue_pairs_of_1_1_0_predict_the_next_symbols():
    config = SourceConfig(pattern="1 1 0", count=2, offset=1, task="continue", horizon=2)
    source = load_source(config, window=4)
    assert source.pairs().to_list() == [
        {"source": "1 0 1 1", "target": "0 1"},
        {"source": "0 1 1 0", "target": "1 1"},
    ]


@given(**alternating_settings)
@settings(max_examples=40, deadline=None)
def test_every_alternating_window_is_a_slice_of_the_infinite_sequence(
    pattern, window, count, offset
):
    source = load_source(SourceConfig(pattern=pattern, count=count, offset=offset), window=window)
    expected = [infinite_slice(pattern, offset + i, window) for i in range(count)]
    assert source.texts()["text"] == expected
    assert source.pairs()["source"] == expected


@given(**alternating_settings)
@settings(max_examples=40, deadline=None)
def test_shift_targets_are_the_source_window_moved_by_one_symbol(pattern, window, count, offset):
    config = SourceConfig(pattern=pattern, count=count, offset=offset, task="shift")
    pairs = load_source(config, window=window).pairs()
    for pair in pairs:
        source, target = pair["source"].split(), pair["target"].split()
        assert len(target) == window
        assert target[:-1] == source[1:]
    expected = [infinite_slice(pattern, offset + i + 1, window) for i in range(count)]
    assert pairs["target"] == expected


@given(**alternating_settings, horizon=st.integers(1, 6))
@settings(max_examples=40, deadline=None)
def test_continue_targets_are_the_symbols_right_after_the_window(
    pattern, window, count, offset, horizon
):
    config = SourceConfig(
        pattern=pattern, count=count, offset=offset, task="continue", horizon=horizon
    )
    pairs = load_source(config, window=window).pairs()
    for i, pair in enumerate(pairs):
        after_window = infinite_slice(pattern, offset + i + window, horizon)
        assert pair["target"] == after_window
        assert infinite_slice(pattern, offset + i, window + horizon) == (
            pair["source"] + " " + pair["target"]
        )


def test_unknown_alternating_task_raises_unknown_name_naming_the_tasks():
    with raises_one_line(UnknownNameError, "unknown task 'reverse'.*shift.*continue"):
        load_source(SourceConfig(task="reverse"), window=4)


@pytest.mark.parametrize("pattern", ["", "   "])
def test_empty_alternating_pattern_raises_config_error(pattern):
    with raises_one_line(ConfigError, "pattern is empty"):
        load_source(SourceConfig(pattern=pattern), window=4)


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("count", 0, "count must be at least 1"),
        ("count", -3, "count must be at least 1"),
        ("horizon", 0, "horizon must be at least 1"),
        ("offset", -1, "offset must be 0 or more"),
    ],
)
def test_out_of_range_alternating_options_raise_config_error(option, value, match):
    with raises_one_line(ConfigError, match):
        SourceConfig(**{option: value})


def test_alternating_fingerprint_follows_the_settings():
    def fingerprint(window=4, **options):
        return load_source(SourceConfig(**options), window=window).fingerprint

    assert fingerprint(pattern="1 0") == fingerprint(pattern="1 0")
    assert fingerprint(pattern="1 0") != fingerprint(pattern="1 1 0")
    assert fingerprint(window=4) != fingerprint(window=5)
    assert fingerprint(offset=0) != fingerprint(offset=1)


# Local text files


def test_text_file_documents_are_separated_by_blank_lines(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\nA one. A two.\nA three!\n\n\n\nB one? B two.\n\n\nC one.\n\n\n")
    assert load_file(path).texts()["text"] == ["A one. A two.\nA three!", "B one? B two.", "C one."]


def test_a_line_of_only_whitespace_also_separates_documents(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("A one.\n   \nB one.\n\t\nC one.\n")
    assert load_file(path).texts()["text"] == ["A one.", "B one.", "C one."]


def test_windows_line_endings_separate_documents_too(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(b"A one.\r\nA two.\r\n\r\nB one.\r\n")
    assert load_file(path).texts()["text"] == ["A one.\nA two.", "B one."]


def test_text_file_pairs_each_sentence_with_the_next_in_the_same_document(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("A one. A two!\nA three?\n\nB one.\n\nC one. C two.\n")
    assert load_file(path).pairs().to_list() == [
        {"source": "A one.", "target": "A two!"},
        {"source": "A two!", "target": "A three?"},
        {"source": "C one.", "target": "C two."},
    ]


sentences = st.from_regex(r"[A-Z][a-z]{0,6}( [a-z]{1,6}){0,3}[.!?]", fullmatch=True)


@given(st.lists(st.lists(sentences, min_size=1, max_size=4), min_size=1, max_size=4))
@settings(max_examples=25, deadline=None)
def test_text_pairs_never_cross_documents(documents):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.txt"
        path.write_text("\n\n".join("\n".join(document) for document in documents) + "\n")
        pairs = load_file(path).pairs().to_list()
    expected = [
        {"source": left, "target": right}
        for document in documents
        for left, right in itertools.pairwise(document)
    ]
    assert pairs == expected


# Pairs files: JSON Lines, CSV, Parquet


def test_jsonl_pairs_file_gives_its_pairs_and_each_side_as_a_document(tmp_path):
    rows = [{"source": "one", "target": "1"}, {"source": "twelve", "target": "12"}]
    source = load_file(write_jsonl(tmp_path / "pairs.jsonl", rows))
    assert source.pairs().to_list() == rows
    assert source.texts()["text"] == ["one", "1", "twelve", "12"]


def test_custom_source_and_target_columns_are_renamed_to_source_and_target(tmp_path):
    rows = [{"id": 7, "question": "Who?", "answer": "Tom."}]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    source = load_file(path, source_column="question", target_column="answer")
    assert source.pairs().to_list() == [{"source": "Who?", "target": "Tom."}]
    assert source.texts()["text"] == ["Who?", "Tom."]


def test_csv_text_column_gives_documents_and_next_sentence_pairs(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_text('text,label\n"Hi there. Bye now.",1\n"Solo.",0\n')
    source = load_file(path)
    assert source.texts().column_names == ["text"]
    assert source.texts()["text"] == ["Hi there. Bye now.", "Solo."]
    assert source.pairs().to_list() == [{"source": "Hi there.", "target": "Bye now."}]


def test_csv_custom_text_column_is_read_as_text(tmp_path):
    path = tmp_path / "corpus.csv"
    path.write_text("label,body\n1,First.\n0,Second.\n")
    assert load_file(path, text_column="body").texts().to_list() == [
        {"text": "First."},
        {"text": "Second."},
    ]


def test_parquet_pairs_file_gives_its_pairs(tmp_path):
    path = tmp_path / "pairs.parquet"
    columns = {"source": ["three", "four"], "target": ["3", "4"]}
    datasets.Dataset.from_dict(columns).to_parquet(str(path))
    source = load_file(path)
    assert source.pairs().to_dict() == columns
    assert source.texts()["text"] == ["three", "3", "four", "4"]


def test_asking_texts_of_a_file_without_the_text_column_names_the_column(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [{"a": "x", "b": "y"}])
    with raises_one_line(SourceError, r"no column 'body' \(columns: a, b\)"):
        load_file(path, text_column="body").texts()


def test_asking_pairs_of_a_file_without_source_target_or_text_names_the_columns(tmp_path):
    path = write_jsonl(tmp_path / "rows.jsonl", [{"a": "x", "b": "y"}])
    with raises_one_line(SourceError, r"neither 'source'/'target' nor 'text'.*columns: a, b"):
        load_file(path).pairs()


# Bundled samples


def test_sample_names_are_the_bundled_corpora():
    assert sample_names() == ["english", "numbers"]
    assert sample_path("english").is_relative_to(samples_dir())


def test_sample_english_loads_documents_and_next_sentence_pairs():
    source = load_source(SourceConfig("sample:english"))
    documents = source.texts()["text"]
    assert len(documents) > 10
    assert all(document and "\n\n" not in document for document in documents)
    first, second = sample_path("english").read_text().splitlines()[:2]
    assert source.pairs()[0] == {"source": first, "target": second}


def test_sample_numbers_loads_3000_word_to_digit_pairs():
    pairs = load_source(SourceConfig("sample:numbers")).pairs()
    assert pairs.num_rows == 3000
    assert pairs.column_names == ["source", "target"]
    assert all(target.isdigit() for target in pairs["target"])
    assert not any(char.isdigit() for source in pairs["source"] for char in source)


def test_unknown_sample_raises_unknown_name_listing_the_known_samples():
    with raises_one_line(UnknownNameError, "unknown sample 'nope'"):
        load_source(SourceConfig("sample:nope"))
    with pytest.raises(UnknownNameError) as info:
        load_source(SourceConfig("sample:nope"))
    assert "sample:english" in str(info.value) and "sample:numbers" in str(info.value)


# Unreadable files


def test_missing_file_raises_source_error(tmp_path):
    with raises_one_line(SourceError, "no such file"):
        load_file(tmp_path / "absent.txt")


def test_directory_raises_source_error(tmp_path):
    with raises_one_line(SourceError, "is a directory"):
        load_file(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("nul.txt", b"ab\x00cd\n", "binary file"),
        ("nul.jsonl", b'{"text": "a"}\n\x00\x01', "binary file"),
        ("latin1.txt", b"caf\xe9 au lait\n", "not UTF-8"),
        ("latin1_end.txt", b"caf\xe9", "not UTF-8"),
        ("empty.txt", b"", "is empty"),
        ("blank.txt", b"  \n\t\n \n", "holds no text"),
        ("newlines.txt", b"\n\n\n\n", "holds no text"),
    ],
)
def test_unreadable_text_raises_source_error_naming_the_problem(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with raises_one_line(SourceError, match):
        load_file(path)


def test_corrupt_parquet_raises_source_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with raises_one_line(SourceError, "cannot read .* as parquet"):
        load_file(path)


# Fingerprints


def test_file_fingerprint_depends_on_content_not_on_the_path(tmp_path):
    first, same, changed = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    first.write_text("Alpha one.\n")
    same.write_text("Alpha one.\n")
    changed.write_text("Alpha two.\n")
    assert load_file(first).fingerprint == load_file(same).fingerprint
    assert load_file(first).fingerprint != load_file(changed).fingerprint


def test_file_fingerprint_changes_when_the_file_is_rewritten(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Alpha one.\n")
    before = load_file(path).fingerprint
    path.write_text("Alpha two.\n")
    after = load_file(path)
    assert after.fingerprint != before
    assert after.texts()["text"] == ["Alpha two."]


def test_file_fingerprint_changes_with_the_columns_read(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("text,body\nOne.,Two.\n")
    assert load_file(path).fingerprint != load_file(path, text_column="body").fingerprint


def test_numeric_json_columns_come_back_as_strings(tmp_path):
    path = tmp_path / "numbers.jsonl"
    path.write_text('{"source": "three", "target": 3}\n{"source": "four", "target": 4}\n')
    assert load_file(path).pairs()[:] == {"source": ["three", "four"], "target": ["3", "4"]}


def test_malformed_json_names_the_parser_error(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"source": "a", "target": \n')
    with raises_one_line(SourceError, "cannot read .*broken.jsonl as json: Expected object"):
        load_file(path)
