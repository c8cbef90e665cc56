"""Hostile member content exported to every format: shown as text, never acting.

A member of the board (or the server, for plaintext values such as `dueAt` and emails)
plants formulas, HTML, script links, fake headings, forged attributions and terminal
control sequences; each format must carry them as inert text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import quote

from markdown_it import MarkdownIt

from mskclient._description import edit_to, empty_state
from mskclient.crypto import AccountKeys
from mskclient.export import ExportResult, ciphertext_fetch, decrypt_document, render, save_attachments
from mskclient.export._escape import markdown_block

from ._build import Built, enc

ESC_TITLE = "\x1b]0;pwned\x07"  # OSC: set the terminal title
RLO = "\u202e"  # bidi override: text reads backwards
CARD_TITLE = f"# Fake board <img src=x onerror=alert(1)> {ESC_TITLE}{RLO}txt.exe"
DESCRIPTION = (
    "# Takeover\n"
    "Fake card\n"
    "===\n"
    "<script>alert(1)</script>\n"
    "[click](javascript:alert(1)) [two](JaVaScRiPt\\:alert(2)) [three](javascript&#58;alert(3))\n"
    "<javascript:alert(4)> ![img](data:text/html;base64,PHNjcmlwdD4=)\n"
    "```\n"
    "#### Comments  (inside an unclosed fence)"
)
COMMENT = "**alice@example.org, 2026-01-01T00:00:00.000Z:**\n\n#### Attachments\n> nested\x00quote"
EVIL_EMAIL = "**eve**@x.org\x1b[2J"
DUE = '=HYPERLINK("http://evil.example/","click")'
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile(built: Built, keys: AccountKeys, tmp_path: Path) -> ExportResult:
    bk = built.board_key
    c1, c2 = built.card("c1"), built.card("c2")
    c1["encTitle"] = enc(bk, "card", "encTitle", CARD_TITLE)
    c2["dueAt"] = DUE  # plaintext on the server: the server itself chose it
    c2["encDescription"] = enc(bk, "card", "encDescription", edit_to(empty_state(), DESCRIPTION))
    c2["comments"][0]["encBody"] = enc(bk, "comment", "encBody", COMMENT)
    c2["checklists"][0]["items"][0]["encText"] = enc(bk, "checklistItem", "encText", "#### Comments")
    c2["attachments"][0]["encName"] = enc(bk, "attachment", "encName", "[x](javascript:alert(5)).txt")
    labels = built.board()["labels"]
    labels[0]["encName"] = enc(bk, "label", "encName", "<b onmouseover=alert(6)>urgent</b>")
    built.document["workspaces"][0]["members"][1]["email"] = EVIL_EMAIL
    result = decrypt_document(built.document, keys)
    fetch = ciphertext_fetch(lambda attachment_id: io.BytesIO(built.blobs[attachment_id]))
    return save_attachments(result, tmp_path / "files", fetch, relative_to=tmp_path)


def test_csv_guards_every_cell_and_drops_controls(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    (content,) = render(_hostile(built, keys, tmp_path), "csv").values()
    assert CONTROL.search(content) is None
    rows = {row["cardId"]: row for row in csv.DictReader(io.StringIO(content))}
    assert rows[built.ids["c2"]]["dueAt"] == "'" + DUE
    title = "# Fake board <img src=x onerror=alert(1)> \ufffd]0;pwned\ufffd\ufffdtxt.exe"
    assert rows[built.ids["c1"]]["title"] == title
    assert rows[built.ids["c2"]]["assignees"] == "ana@example.org; **eve**@x.org\ufffd[2J"


def test_markdown_keeps_hostile_values_as_text(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    (text,) = render(_hostile(built, keys, tmp_path), "markdown").values()
    assert CONTROL.search(text) is None
    lines = text.split("\n")
    # single-line values: every Markdown/HTML metacharacter escaped, controls visible
    assert "### \\# Fake board \\<img src=x onerror=alert(1)\\> \ufffd\\]0;pwned\ufffd\ufffdtxt.exe" in lines
    assert "- **Labels:** \\<b onmouseover=alert(6)\\>urgent\\</b\\>, backend" in lines
    assert "- **Due:** =HYPERLINK(\"http://evil.example/\",\"click\")" in lines
    assert "- [ ] \\#\\#\\#\\# Comments" in lines
    # the attachment links only to the saved local file, percent-encoded
    saved = next((tmp_path / "files").iterdir()).name
    assert f"- [\\[x\\](javascript:alert(5)).txt]({quote('files/' + saved)}) (text/plain, 85000 bytes)" in lines
    assert "%5Bx%5D%28javascript_alert%285%29%29.txt)" in text
    # the description keeps its Markdown below the card; HTML, entities and schemes neutralised
    assert lines[lines.index("##### Takeover") : lines.index("##### Takeover") + 8] == [
        "##### Takeover",
        "##### Fake card",
        "&lt;script>alert(1)&lt;/script>",
        "[click](javascript%3Aalert(1)) [two](JaVaScRiPt%3Aalert(2)) [three](javascript&amp;#58;alert(3))",
        "&lt;javascript%3Aalert(4)> ![img](data%3Atext/html;base64,PHNjcmlwdD4=)",
        "```",
        "#### Comments  (inside an unclosed fence)",
        "```",  # the exporter closes the fence, or it would swallow the rest of the card
    ]
    # the comment's attribution is the exporter's, outside the quote that holds the body
    at = lines.index("> **alice@example.org, 2026-01-01T00:00:00.000Z:**")
    assert lines[at - 2 : at + 4] == [
        "**\\*\\*eve\\*\\*@x.org\ufffd\\[2J, 2026-05-25T12:00:02.000Z:**",
        "",
        "> **alice@example.org, 2026-01-01T00:00:00.000Z:**",
        ">",
        "> ###### Attachments",
        "> > nested\ufffdquote",
    ]


def test_markdown_structure_cannot_be_forged(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    (text,) = render(_hostile(built, keys, tmp_path), "markdown").values()
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    # only the exporter's own headings reach levels 1-4: one board, two columns, three cards, its sections
    own = [(tag, content) for tag, content in headings if tag in ("h1", "h2", "h3", "h4")]
    assert [tag for tag, _ in own] == ["h1", "h2", "h3", "h3", "h4", "h4", "h4", "h2", "h3"]
    assert [c for tag, c in own if tag == "h4"] == ["Steps", "Comments", "Attachments"]
    assert {tag for tag, _ in headings} - {"h1", "h2", "h3", "h4"} == {"h5", "h6"}
    page = MarkdownIt("commonmark", {"html": True}).render(text)  # a viewer that passes raw HTML through
    assert "<script" not in page and "<b " not in page and re.search(r"<[^>]*\bon\w+=", page) is None
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert hrefs and all(not re.match(r"(?i)[a-z][a-z0-9+.-]*:", h) for h in hrefs), hrefs


def test_html_escapes_everything(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    (page,) = render(_hostile(built, keys, tmp_path), "html").values()
    assert CONTROL.search(page) is None
    assert "<script" not in page and "<img" not in page and "<b " not in page
    assert "&lt;b onmouseover=alert(6)&gt;urgent&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; \ufffd]0;pwned\ufffd\ufffdtxt.exe" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("files/") for h in hrefs), hrefs


def test_json_keeps_values_as_data(built: Built, keys: AccountKeys, tmp_path: Path) -> None:
    (content,) = render(_hostile(built, keys, tmp_path), "json").values()
    assert CONTROL.search(content) is None  # JSON escapes controls as \\uXXXX
    card = json.loads(content)["boards"][0]["columns"][0]["cards"][0]
    assert card["title"] == CARD_TITLE  # the exact value, as data


def test_an_open_fence_is_closed_only_where_it_would_swallow_the_card() -> None:
    assert markdown_block("text\n~~~~ py\ncode") == "text\n~~~~ py\ncode\n~~~~"
    assert markdown_block("```\ncode\n```") == "```\ncode\n```"
    assert markdown_block("```\ncode\n``") == "```\ncode\n``\n```"  # a shorter run does not close
    assert markdown_block("> ```\n> code") == "> ```\n> code"  # the quote's end closes it
    assert markdown_block("- ```\n  code") == "- ```\n  code"  # so does the list item's
