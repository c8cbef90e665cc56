"""A card's description or comment inside the Markdown and HTML exports: its own Markdown still
shows, but it cannot add headings above its level, define links for other cards, hide a heading
in an HTML block, or run anything in the HTML page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from mskclient.export import ExportBoard, ExportCard, ExportColumn, ExportComment, ExportResult, render
from mskclient.export._writers import board_markdown

#: Two viewers: plain CommonMark, and one that passes raw HTML through (as many do).
VIEWERS = (MarkdownIt("commonmark"), MarkdownIt("commonmark", {"html": True}))


def _card(card_id: str, description: str, comment: str = "") -> ExportCard:
    comments = (ExportComment("m1", "ana@example.org", comment, "2026-01-01T00:00:00Z"),) if comment else ()
    return ExportCard(card_id, f"Card {card_id}", description, (), (), None, None, {}, comments, (), (), False)


def _board(*cards: ExportCard) -> ExportBoard:
    return ExportBoard("b1", "w1", "Board", "", False, (ExportColumn("c1", "Column", cards),))


def _headings(text: str, viewer: MarkdownIt) -> list[tuple[str, str]]:
    tokens = viewer.parse(text)
    return [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def _own_headings(description: str, comment: str) -> list[tuple[str, str]]:
    expected = [("h1", "Board"), ("h2", "Column"), ("h3", "Card k1")]
    return expected + ([("h4", "Comments")] if comment else []) + [("h3", "Card k2")]


HIDDEN_HEADINGS = {
    "an HTML block around a heading": "<div>\n# Pwned\n</div>",
    "an HTML comment around a heading": "<!--\n# Pwned\n-->",
    "a processing instruction": "<?php\n## Pwned\n?>",
    "a <pre> block": "<pre>\n# Pwned\n</pre>",
    "a setext heading": "Pwned\n===",
    "a setext heading in a list": "- Pwned\n  ===\n- # Also",
    "headings in a quote": "> # Pwned\n> Also\n> ---",
    "a heading in a nested list": "1. item\n\n   > - # Pwned",
    "a definition over a setext underline": "[a]: /u\n===",
    "a definition over a dash line": "[a]: /u\n---",
    "a definition over indented code": "[a]: /u\n    <script>alert(1)</script>",
    "an unclosed fence": "```\n# inside",
    "an unclosed fence in a list": "- ```\n  # inside",
    "an unclosed fence in a quote": "> ~~~\n> # inside",
}


@pytest.mark.parametrize("description", HIDDEN_HEADINGS.values(), ids=HIDDEN_HEADINGS.keys())
@pytest.mark.parametrize("where", ["description", "comment"])
def test_no_heading_escapes_the_card(description: str, where: str) -> None:
    text, comment = (description, "") if where == "description" else ("", description)
    document = board_markdown(_board(_card("k1", text, comment), _card("k2", "")))
    for viewer in VIEWERS:
        headings = _headings(document, viewer)
        assert [h for h in headings if h[0] in ("h1", "h2", "h3", "h4")] == _own_headings(text, comment), document
        page = viewer.render(document)
        assert "<script" not in page and "<div" not in page and "<!--" not in page, page


def test_headings_stay_in_their_list_or_quote() -> None:
    document = board_markdown(_board(_card("k1", "- # one\n- Two\n  ===\n\n> # three")))
    assert "- ##### one\n- ##### Two\n\n> ##### three" in document
    tokens = VIEWERS[0].parse(document)
    nested = [t.tag for t in tokens if t.type == "heading_open" and t.level > 0]
    assert nested == ["h5", "h5", "h5"]  # in the list items and the quote, not pulled out of them


def test_a_description_cannot_define_links_for_another_card() -> None:
    board = _board(
        _card("k1", "[docs]: https://evil.example/phish\n> [y]: javascript:alert(1)"),
        _card("k2", "See [the docs][docs] and [docs]."),
    )
    document = board_markdown(board)
    for viewer in VIEWERS:
        env: dict[str, object] = {}
        page = viewer.render(document, env)
        assert env.get("references", {}) == {}
        assert "evil.example" not in re.findall(r'href="([^"]*)"', page)
        assert "[docs]: https://evil.example/phish" in page  # shown as text, not lost
    assert "See [the docs][docs] and [docs]." in document


# Fragments a description is made of; joined in any order they must never break the card.
_FRAGMENTS = st.sampled_from(
    ["# h", "Title", "===", "---", "- ", "> ", "1. ", "   ", "    ", "```", "~~~", "<div>", "<!--", "-->",
     "[a]: /u", "[a]", "\\", "*", "`", "|", "<", ">", "&", "x", " ", "\t", "\n", "\n\n"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=24).map("".join), st.lists(_FRAGMENTS, max_size=12).map("".join))
def test_any_description_keeps_the_document_structure(description: str, comment: str) -> None:
    document = board_markdown(_board(_card("k1", description, comment), _card("k2", "[a]")))
    for viewer in VIEWERS:
        env: dict[str, object] = {}
        tokens = viewer.parse(document, env)
        headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
        own = [h for h in headings if h[0] in ("h1", "h2", "h3", "h4")]
        assert own == _own_headings(description, comment), document
        assert env.get("references", {}) == {}, document


def _html_page(description: str, comment: str = "") -> str:
    result = ExportResult("2026-01-01T00:00:00Z", (_board(_card("k1", description, comment)),))
    (page,) = render(result, "html").values()
    return page


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](javascript&#58;alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click]( javascript:alert(1) )",
    "[click](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<data:text/html,<script>alert(1)</script>>",
    "[vb](vbscript:msgbox(1))",
    "[f](file:///etc/passwd)",
    "[ref][r]\n\n[r]: javascript:alert(1)",
    "![tracker](https://tracker.example/pixel.png)",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '[t](https://ok.example "title\\" onmouseover=\\"alert(1)")',
    "<style>body{display:none}</style>",
    "<iframe src=https://evil.example></iframe>",
    "<meta http-equiv=refresh content='0;url=https://evil.example'>",
]


class _Tags(HTMLParser):
    """Every element of a page with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


#: What the page is built of: the exporter's layout and the elements Markdown renders to.
_LAYOUT = {"html", "head", "meta", "title", "style", "body", "section", "header", "h1", "h2", "h3", "div", "span"}
_MARKDOWN = {"p", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "h4", "h5", "h6", "hr",
             "br", "s", "table", "thead", "tbody", "tr", "th", "td", "input"}  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("where", ["description", "comment"])
def test_html_export_renders_nothing_executable(hostile: str, where: str) -> None:
    page = _html_page(hostile) if where == "description" else _html_page("", hostile)
    tags = _Tags(page).tags
    body = tags[[t for t, _ in tags].index("body") + 1 :]
    assert {t for t, _ in body} <= _MARKDOWN | {"section", "header", "h1", "h2", "h3", "div", "span"}, body
    assert {t for t, _ in tags if t in ("meta", "style")} and [t for t, _ in body if t in ("meta", "style")] == []
    for tag, attrs in body:
        # no event handler, no inline style, nothing loaded, no form
        assert set(attrs) <= {"class", "id", "href", "title", "type", "disabled", "checked", "start"}, (tag, attrs)
        href = attrs.get("href") or ""
        scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", href)
        assert scheme is None or scheme.group(1).lower() in ("http", "https", "mailto"), href
        assert tag != "input" or attrs.get("disabled") == "disabled"


def test_html_export_is_one_script_free_page_with_a_strict_policy() -> None:
    page = _html_page("text")
    assert {t for t, _ in _Tags(page).tags} <= _LAYOUT | {"p"}
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert f'<meta http-equiv="Content-Security-Policy" content="{policy}">' in page
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page


def test_html_export_renders_markdown() -> None:
    page = _html_page(
        "## Plan\n\n- one\n- *two* and **three**\n\n1. first\n\n`code` and [site](https://example.org/a?b=1&c=2), "
        "<https://auto.example>, [mail](mailto:ana@example.org), [file](files/a%20b.txt)\n\n"
        "```py\nprint('<hi>')\n```\n\n- [ ] open\n- [x] done\n\n> quoted\n\n~~gone~~",
        "A **bold** comment\nsecond line",
    )
    assert "<h5>Plan</h5>" in page  # a description's `##` sits below the card's <h3>
    assert "<ul>\n<li>one</li>\n<li><em>two</em> and <strong>three</strong></li>\n</ul>" in page
    assert "<ol>\n<li>first</li>\n</ol>" in page
    assert '<code>code</code> and <a href="https://example.org/a?b=1&amp;c=2">site</a>' in page
    assert '<a href="https://auto.example">https://auto.example</a>' in page
    assert '<a href="mailto:ana@example.org">mail</a>' in page and '<a href="files/a%20b.txt">file</a>' in page
    assert "<pre><code class=\"language-py\">print('&lt;hi&gt;')\n</code></pre>" in page
    assert 'disabled="disabled" type="checkbox"> open' in page
    assert 'checked="checked" disabled="disabled" type="checkbox"> done' in page
    assert "<blockquote>\n<p>quoted</p>\n</blockquote>" in page and "<s>gone</s>" in page
    assert "A <strong>bold</strong> comment<br />\nsecond line" in page  # line breaks kept
