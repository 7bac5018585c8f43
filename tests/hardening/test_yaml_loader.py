"""Hostile project files: an alias bomb, nesting 6,000 deep, bytes that are not UTF-8.
Each is a clear error naming file and line, after a bounded amount of work, never a
traceback; ordinary anchors still work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tidegauge.cli.main import app
from tidegauge.yamlsource import MAX_ALIAS_NODES, ConfigError, load_yaml

BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def test_alias_bomb_is_refused_fast(tmp_path):
    path = tmp_path / "tidegauge.yml"
    path.write_text(BOMB)
    assert len(BOMB) < 400  # about the reported 363 bytes; 9**9 strings if expanded
    # refused once the budget is spent, not after building 9**9 strings
    with pytest.raises(ConfigError, match=r"tidegauge.yml:\d+: aliases expand to more than"):
        load_yaml(path)


@pytest.mark.parametrize(
    "text",
    ["x: " + "[" * 6000 + "]" * 6000, "x:\n" + "".join("  " * i + "- \n" for i in range(6000))],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_with_a_line(tmp_path, text):
    path = tmp_path / "tidegauge.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"tidegauge.yml:\d+: nested deeper than 64 levels"):
        load_yaml(path)


def test_non_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "tidegauge.yml"
    path.write_bytes(b"name: ok\nwarehouses: []\ntables:\n  - match: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"tidegauge.yml:4: not UTF-8 \(byte 0xe9 at column 15\)"):
        load_yaml(path)
    result = CliRunner().invoke(app, ["-c", str(path), "validate"])
    assert result.exit_code == 2
    assert "tidegauge.yml:4: not UTF-8" in result.output and "Traceback" not in result.output


def test_bomb_through_the_cli_is_one_line(tmp_path):
    path = tmp_path / "tidegauge.yml"
    path.write_text(BOMB)
    result = CliRunner().invoke(app, ["-c", str(path), "validate"])
    assert result.exit_code == 2 and "aliases expand" in result.output


def test_ordinary_anchors_and_nesting_still_load(tmp_path):
    path = tmp_path / "tidegauge.yml"
    nested = "[" * 30 + "1" + "]" * 30
    path.write_text(
        "base: &base {owner: a@example.com, tags: [x, y]}\n"
        "tables:\n  - {match: 'raw.*', owner: a@example.com}\n"
        f"copies: [*base, *base, *base]\ndeep: {nested}\n"
    )
    data, smap = load_yaml(path)
    assert data["copies"] == [data["base"]] * 3
    assert smap.line_of(("tables", 0, "match")) == 3
    assert MAX_ALIAS_NODES >= 1000
