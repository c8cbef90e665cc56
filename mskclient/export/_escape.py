"""Escaping of decrypted (attacker-chosen) text per export format.

Every string in an export came from the server or another member.  Each writer passes
it through one of these before it lands in a file, so a value can only ever be shown,
never act: no formula in a spreadsheet, no HTML, link, heading or forged attribution
in Markdown, no control character in any text file.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from mdit_py_plugins.tasklists import tasklists_plugin

__all__ = ["csv_cell", "json_escape_controls", "markdown_block", "markdown_html", "markdown_inline", "visible"]

#: C0 and C1 controls, DEL, and the Unicode bidi controls (which reorder how text reads).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: Line separators other than "\n" that some readers honour and Markdown does not.
_ODD_BREAKS = re.compile("\r\n?|[\u2028\u2029\x85]")
REPLACEMENT = "\ufffd"


def visible(text: str) -> str:
    """`text` with line breaks unified to "\\n" and every other control shown as U+FFFD.

    Tabs and newlines stay (they are content); everything else that a terminal, an
    editor or a spreadsheet would interpret is replaced, so it is seen, not obeyed.
    """
    return _CONTROLS.sub(REPLACEMENT, _ODD_BREAKS.sub("\n", text))


_JSON_RAW_CONTROLS = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def json_escape_controls(text: str) -> str:
    """JSON text with the controls `json.dumps(ensure_ascii=False)` leaves raw written as `\\uXXXX`.

    json escapes only U+0000-U+001F; DEL, C1 controls, bidi controls and line separators
    would otherwise reach a terminal running `cat` or `jq`.  They can only occur inside
    strings (JSON's own syntax is ASCII), so the data is unchanged.
    """
    return _JSON_RAW_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_cell(value: str) -> str:
    """A spreadsheet cell that cannot be a formula (OWASP's CSV injection advice) or hold controls.

    A cell starting with `= + - @`, a tab or a carriage return is prefixed with `'`,
    which spreadsheets read as "this is text" and do not show.
    """
    value = visible(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# Markdown characters that start emphasis, code, links, images, HTML, headings, tables,
# strikethrough or entities; escaped with a backslash (CommonMark: any ASCII punctuation).
_INLINE_META = re.compile(r"([\\`*_\[\]<>#|~&!])")


def markdown_inline(value: str) -> str:
    """A single-line value (title, name, label, email, date) as literal Markdown text.

    Whitespace runs (including newlines) become one space, controls become U+FFFD, and
    every Markdown or HTML metacharacter is backslash-escaped, so the value renders as
    exactly its text: it cannot open a link, a tag, emphasis or a heading.
    """
    return _INLINE_META.sub(r"\\\1", " ".join(visible(value).split()))


class _EveryLink(MarkdownIt):
    """A parser that takes every link destination: `javascript:x` leaves the export as the
    valid `javascript%3Ax`, so its definition must be seen as a definition here too."""

    def validateLink(self, url: str) -> bool:
        return True


#: Parses a description as the exported document will show it: raw HTML off, because `<`
#: is written as `&lt;`, so an HTML block cannot hide a heading from this parse and then
#: fall apart into text (and a real heading) in the export.
_PARSER = _EveryLink("commonmark", {"html": False})
#: Lowest heading level a description or comment may use: below the card's `###` and the
#: exporter's own `####` sections (Checklist, Comments, Attachments), so none can be faked.
MIN_EMBEDDED_HEADING = 5
# A scheme that runs or embeds content when a Markdown viewer follows the link, with an
# optional backslash (CommonMark drops it inside a link destination).
_DANGEROUS_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data|file)\\?:(?=\S)")
#: Block quote markers, list markers and indentation in front of a line's content.
_CONTAINERS = re.compile(r"(?:[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$)))*[ \t]*")
#: Blocks that hold a line's content (every other non-blank line is a link reference definition).
_LEAF_BLOCKS = frozenset({"paragraph_open", "heading_open", "fence", "code_block", "hr"})


def _neutral_line(line: str) -> str:
    """One line of a description outside code: no raw HTML, no entity, no dangerous scheme.

    `&` and `<` become entities, so `<tag>`, `<javascript:…>` autolinks and entity-spelt
    schemes (`javascript&#58;`) stay text; a `javascript:`-like scheme loses its colon
    (`%3A`), so a link built from it is a harmless relative reference.
    """
    line = line.replace("&", "&amp;").replace("<", "&lt;")
    return _DANGEROUS_SCHEME.sub(lambda m: f"{m.group(1)}%3A", line)


def _blank_in_same_container(prefix: str) -> str:
    """An empty line that stays inside the block quotes of `prefix` (list markers become indentation)."""
    return re.sub(r"[-*+]|\d{1,9}[.)]", lambda m: " " * len(m.group()), prefix).rstrip()


def markdown_block(text: str) -> str:
    """A description or comment body: still Markdown, but unable to break the document.

    Code blocks and fences are kept byte for byte (their content renders literally); a
    fence left open is closed.  Every heading, setext ones and those in lists or quotes
    too, is rewritten as an ATX heading of level 5 or 6 in its place, so it sits below
    the card and the exporter's sections.  Link reference definitions are shown as text:
    a definition holds for the whole document, so it could redirect another card's links.
    Everywhere else raw HTML, entities and dangerous link schemes are neutralised (see
    `_neutral_line`); inside an inline code span this shows `&lt;` for `<`, the price of
    not parsing inline code.  Tabs become spaces at CommonMark's 4-column stops: a tab's
    width depends on its column, so under the `> ` of a quoted comment it would otherwise
    change what the line is (indented code could become a heading).
    """
    lines = visible(text).expandtabs(4).split("\n")
    verbatim: set[int] = set()
    held: set[int] = set()  # lines inside a leaf block; the other non-blank ones define references
    headings: dict[int, tuple[int, str]] = {}  # first line -> (end line, new heading line)
    unclosed_fence = ""
    tokens = _PARSER.parse("\n".join(lines))
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type in _LEAF_BLOCKS:
            held.update(range(start, end))
        if token.type in ("fence", "code_block"):
            verbatim.update(range(start, end))
            # an open fence at the top level runs to the end: close it, or it swallows the card
            # (inside a quote or list item, the end of that container closes it)
            top_level_fence = token.type == "fence" and token.level == 0
            if top_level_fence and (end - start < 2 or not _closes(lines[end - 1], token.markup)):
                unclosed_fence = token.markup
        elif token.type == "heading_open":
            level = min(6, MIN_EMBEDDED_HEADING - 1 + int(token.tag[1:]))
            content = " ".join(tokens[index + 1].content.split())
            prefix = _CONTAINERS.match(lines[start])
            assert prefix is not None  # the pattern matches the empty string
            headings[start] = (end, f"{prefix.group()}{'#' * level} {_neutral_line(content)}".rstrip())
    out: list[str] = []
    number = 0
    while number < len(lines):
        if number in headings:
            end, heading = headings[number]
            out.append(heading)
            number = end
            continue
        line = lines[number]
        if number in verbatim:
            out.append(line)
        elif number in held or not line.strip():
            out.append(_neutral_line(line))
        else:
            out += _shown_definition(lines, number, held)
        number += 1
    if unclosed_fence:
        out.append(unclosed_fence)
    return "\n".join(out).strip("\n")


def _shown_definition(lines: list[str], number: int, held: set[int]) -> list[str]:
    """A line of a link reference definition, as text: its `[` escaped, so it defines nothing.

    The text then reads as a paragraph, which would absorb the next line (an indented code
    block would become raw text, `---` an underline); a blank line after the definition keeps
    what follows as it was.
    """
    line = _neutral_line(lines[number])
    prefix = _CONTAINERS.match(line)
    assert prefix is not None  # the pattern matches the empty string
    at = prefix.end()
    shown = [line[:at] + "\\" + line[at:] if line.startswith("[", at) else line]
    following = lines[number + 1] if number + 1 < len(lines) else ""
    if number + 1 in held and following.strip():
        shown.append(_blank_in_same_container(prefix.group()))
    return shown


def _closes(line: str, markup: str) -> bool:
    """Whether `line` closes a fence opened with `markup` (same character, at least as long)."""
    stripped = line.strip()
    return len(stripped) >= len(markup) and set(stripped) == {markup[0]} and len(line) - len(line.lstrip()) < 4


#: Link schemes a rendered description may use; a link without a scheme (relative) is kept too.
SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


class _SafeMarkdown(MarkdownIt):
    """CommonMark without raw HTML and without images, whose links may only use a safe scheme."""

    def validateLink(self, url: str) -> bool:
        """Allow http, https, mailto and relative links: `javascript:`, `data:`, `vbscript:`,
        `file:` and every other scheme are refused (the link then leads nowhere, an autolink
        stays text).  `url` arrives normalised, with entities decoded, so an entity-spelt
        colon is caught too."""
        scheme = _SCHEME.match(url.strip())
        return scheme is None or scheme.group(1).lower() in SAFE_LINK_SCHEMES


# `html=False` shows raw HTML as text; images are off because an image loads a resource
# (`![x](https://tracker)` would report that the export was opened): its syntax shows as a link.
# `breaks` keeps each line break the author typed, as the board's own view does.
_HTML_RENDERER = (
    _SafeMarkdown("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"]).disable("image")
)
_HTML_RENDERER.use(tasklists_plugin)
#: Card titles are `<h3>`: headings inside a description or comment start one level below.
_HTML_HEADING_SHIFT = 3


def markdown_html(text: str) -> str:
    """A description or comment rendered as HTML that can only be shown, never run or load anything.

    No raw HTML passes (it is escaped), no image is loaded, links keep only safe schemes
    (see `_SafeMarkdown.validateLink`), controls are shown as U+FFFD, and headings are
    shifted below the card's own title.
    """
    tokens = _HTML_RENDERER.parse(visible(text))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + _HTML_HEADING_SHIFT)}"
    page: str = _HTML_RENDERER.renderer.render(tokens, _HTML_RENDERER.options, {})
    return page
