"""The promise every test of bad input checks: one `error:` line, a non-zero exit, no traceback."""


def one_line_error(result, code: int = 1) -> str:
    """The one line a `CliRunner` result printed on stderr, after checking the promise."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]
