"""Escaping of decrypted (attacker-chosen) text per export format.

Every string in an export came from the server or another member.  Each writer passes
it through one of these before it lands in a file, so a value can only ever be shown,
never act: no formula in a spreadsheet, no HTML, link, heading or forged attribution
in Markdown, no control character in any text file.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

__all__ = ["csv_cell", "json_escape_controls", "markdown_block", "markdown_inline", "visible"]

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


_PARSER = MarkdownIt("commonmark")
#: Lowest heading level a description or comment may use: below the card's `###` and the
#: exporter's own `####` sections (Checklist, Comments, Attachments), so none can be faked.
MIN_EMBEDDED_HEADING = 5
# A scheme that runs or embeds content when a Markdown viewer follows the link, with an
# optional backslash (CommonMark drops it inside a link destination).
_DANGEROUS_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data|file)\\?:(?=\S)")


def _neutral_line(line: str) -> str:
    """One line of a description outside code: no raw HTML, no entity, no dangerous scheme.

    `&` and `<` become entities, so `<tag>`, `<javascript:…>` autolinks and entity-spelt
    schemes (`javascript&#58;`) stay text; a `javascript:`-like scheme loses its colon
    (`%3A`), so a link built from it is a harmless relative reference.
    """
    line = line.replace("&", "&amp;").replace("<", "&lt;")
    return _DANGEROUS_SCHEME.sub(lambda m: f"{m.group(1)}%3A", line)


def markdown_block(text: str) -> str:
    """A description or comment body: still Markdown, but unable to break the document.

    Code blocks and fences are kept byte for byte (their content renders literally).
    Every heading is rewritten as an ATX heading of level 5 or 6 (setext headings too),
    so it sits below the card and the exporter's sections.  Everywhere else raw HTML,
    entities and dangerous link schemes are neutralised (see `_neutral_line`); inside an
    inline code span this shows `&lt;` for `<`, the price of not parsing inline code.
    """
    lines = visible(text).split("\n")
    verbatim: set[int] = set()
    headings: dict[int, tuple[int, str]] = {}  # first line -> (end line, new heading line)
    unclosed_fence = ""
    tokens = _PARSER.parse("\n".join(lines))
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
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
            headings[start] = (end, f"{'#' * level} {_neutral_line(content)}".rstrip())
    out: list[str] = []
    number = 0
    while number < len(lines):
        if number in headings:
            end, heading = headings[number]
            out.append(heading)
            number = end
            continue
        line = lines[number]
        out.append(line if number in verbatim else _neutral_line(line))
        number += 1
    if unclosed_fence:
        out.append(unclosed_fence)
    return "\n".join(out).strip("\n")


def _closes(line: str, markup: str) -> bool:
    """Whether `line` closes a fence opened with `markup` (same character, at least as long)."""
    stripped = line.strip()
    return len(stripped) >= len(markup) and set(stripped) == {markup[0]} and len(line) - len(line.lstrip()) < 4
