"""The house stays small and its map stays true: no module under ``tidegauge/`` grows past
:data:`MAX_LINES`, and every file or folder the README's layout paragraph names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tidegauge"

#: a module longer than this holds more than one idea: split it along a seam (see the README)
MAX_LINES = 650


def long_modules(package: Path, limit: int) -> list[str]:
    """``path: lines`` of every Python module under ``package`` longer than ``limit`` lines."""
    out = []
    for path in sorted(package.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        if lines > limit:
            out.append(f"{path.relative_to(package.parent)}: {lines}")
    return out


def test_no_module_is_longer_than_the_limit() -> None:
    assert long_modules(PACKAGE, MAX_LINES) == []


def test_the_size_check_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "pkg" / "small.py").write_text("x = 1\n" * MAX_LINES)
    assert long_modules(tmp_path / "pkg", MAX_LINES) == [f"pkg/big.py: {MAX_LINES + 1}"]


def layout_paths(readme: str) -> list[str]:
    """The package paths (``store/bulk.py``, ``config/``) the layout paragraph and the list
    after it name; those with a placeholder (``warehouses/<engine>.py``, ``store/*.py``) are
    left out."""
    start = readme.index("The layout follows the data flow")
    section = readme[start : readme.index("\n\n", readme.index("\n- ", start))]
    names = re.findall(r"`([^`\s]+)`", section)
    return [n for n in names if ("/" in n or n.endswith(".py")) and not set("<*") & set(n)]


def missing_paths(readme: str, root: Path) -> list[str]:
    """Paths of the layout that are neither under ``root`` nor under its package."""
    return [
        p
        for p in layout_paths(readme)
        if not (root / p).exists() and not (root / "tidegauge" / p.rstrip("/")).exists()
    ]


def test_every_path_in_the_readme_layout_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    paths = layout_paths(readme)
    assert "config/" in paths and "store/bulk.py" in paths  # the paragraph was found
    assert missing_paths(readme, ROOT) == []


def test_the_layout_check_sees_a_missing_path(tmp_path: Path) -> None:
    (tmp_path / "tidegauge" / "store").mkdir(parents=True)
    (tmp_path / "tidegauge" / "store" / "bulk.py").write_text("")
    readme = (
        "The layout follows the data flow: `store/` and `store/*.py`.\n\n"
        "- a chunk: `store/bulk.py`, `store/gone.py`, `warehouses/<engine>.py`;\n\nmore\n"
    )
    assert missing_paths(readme, tmp_path) == ["store/gone.py"]
