"""docs/protocol.md stays true to the code: its field table is `_profile.FIELDS`, and every
reference into it from the repository names an anchor the document defines."""

from __future__ import annotations

import re
from pathlib import Path

from mskclient import _profile

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "protocol.md"
TABLE_HEADER = "| entity | JSON field | key | associated data (ASCII) |"
#: The document's path, `#` and an anchor, optionally followed by `, #b` or ` and #c` (more anchors of it).
REFERENCE = re.compile(r"docs/protocol\.md(#[\w-]+(?:(?:, | and )#[\w-]+)*)")
SEARCHED = ("mskclient", "tests", "scripts", "bench", "native", "docs", "vectors")
SUFFIXES = {".py", ".pyi", ".c", ".mjs", ".md", ".json", ".yaml", ".toml"}


def _doc() -> str:
    return DOC.read_text("utf-8")


def _anchors(text: str) -> set[str]:
    return set(re.findall(r'<a id="([\w-]+)"></a>', text))


def test_field_table_is_the_profile_field_table() -> None:
    lines = _doc().splitlines()
    start = lines.index(TABLE_HEADER) + 2  # skip the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(tuple(cell.strip().strip("`") for cell in line.strip("|").split("|")))
    expected = [(s.entity, s.name, s.key.value, s.ad.decode("ascii")) for s in _profile.FIELDS.values()]
    assert rows == expected


def test_every_reference_names_an_anchor_of_the_document() -> None:
    anchors = _anchors(_doc())
    files = [ROOT / "README.md"]
    for top in SEARCHED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in SUFFIXES and "node_modules" not in p.parts]
    dangling, found = [], 0
    for path in files:
        for match in REFERENCE.finditer(path.read_text("utf-8", errors="replace")):
            for anchor in re.findall(r"#([\w-]+)", match.group(1)):
                found += 1
                if anchor not in anchors:
                    dangling.append(f"{path.relative_to(ROOT)}: #{anchor}")
    assert found > 50  # the references exist (a broken pattern would find none)
    assert dangling == []


def test_the_document_links_only_to_its_own_anchors() -> None:
    text = _doc()
    assert set(re.findall(r"\]\(#([\w-]+)\)", text)) <= _anchors(text)
