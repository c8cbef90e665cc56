"""Writers of the decrypted tree: JSON (schema in docs/export-schema.json), Markdown, CSV, HTML.

Each writer gives its files as pieces of text, a card or a few rows at a time, written
as they are made: a file is never held whole in memory (on a 10,000-card board the JSON
text alone, with the dictionaries it was dumped from, took three times the tree's size).
Every file goes to a temporary file first and all replace their targets only once all
are written, so an export that fails leaves the previous files untouched.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._errors import UsageError
from ._attachments import attachment_path
from ._decrypt import no_collections
from ._escape import csv_cell, json_escape_controls, markdown_block, markdown_html, markdown_inline, visible
from ._files import atomic_open, safe_name
from ._tree import ExportBoard, ExportCard, ExportResult

__all__ = [
    "FORMATS",
    "SCHEMA_ID",
    "board_to_json",
    "existing_outputs",
    "export_to_json",
    "file_names",
    "render",
    "write_export",
]

SCHEMA_ID = "https://mskclient.invalid/export-schema.json"
#: The file each single-file format writes; Markdown writes one file per board (`_markdown_name`).
_SINGLE_FILE = {"json": "export.json", "csv": "cards.csv", "html": "export.html"}
#: A format's files: name -> its text in pieces, made while they are written.
_Files = dict[str, Iterator[str]]
#: Cards (or CSV rows) per piece of text: few enough writes, and a piece stays small.
_CARDS_PER_PIECE = 64
#: Characters of CSV rows gathered before they are written.
_PIECE_CHARS = 1 << 16
_dumps = json.JSONEncoder(ensure_ascii=False).encode


def _card_json(card: ExportCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "title": card.title,
        "description": card.description,
        "labels": list(card.labels),
        "assignees": list(card.assignees),
        "milestone": card.milestone,
        "dueAt": card.due_at,
        "customFields": dict(card.custom_fields),
        "comments": [{"author": c.author, "body": c.body, "createdAt": c.created_at} for c in card.comments],
        "checklists": [
            {"title": cl.title, "items": [{"text": i.text, "done": i.done} for i in cl.items]} for cl in card.checklists
        ],
        "attachments": [
            {"name": a.name, "mime": a.mime, "size": a.size, **({"file": a.file} if a.file is not None else {})}
            for a in card.attachments
        ],
        "archived": card.archived,
    }


def board_to_json(board: ExportBoard) -> dict[str, Any]:
    """The per-board JSON shape (docs/export-schema.json): `id, title, description, columns[{id, title, cards}]`."""
    return {
        "id": board.id,
        "title": board.title,
        "description": board.description,
        "columns": [{"id": c.id, "title": c.title, "cards": [_card_json(k) for k in c.cards]} for c in board.columns],
    }


def export_to_json(result: ExportResult) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_ID,
        "exportedAt": result.exported_at,
        "boards": [board_to_json(b) for b in result.boards],
        "errors": [f.to_json() for f in result.failures],
    }


def _json(result: ExportResult) -> _Files:
    return {_SINGLE_FILE["json"]: _json_text(result)}


def _json_text(result: ExportResult) -> Iterator[str]:
    """`json.dumps(export_to_json(result), ensure_ascii=False)` and a newline, made a few cards at a time.

    One line (no indent: json's C encoder only runs without it; `jq .` pretty-prints it).
    Each piece is the standard encoder's text of one value, joined with its separators,
    so the file is byte for byte the one dumped whole.
    """
    yield f'{{"$schema": {_dumps(SCHEMA_ID)}, "exportedAt": {_dumps(result.exported_at)}, "boards": ['
    for b, board in enumerate(result.boards):
        yield (", " if b else "") + json_escape_controls(
            f'{{"id": {_dumps(board.id)}, "title": {_dumps(board.title)}, '
            f'"description": {_dumps(board.description)}, "columns": ['
        )
        for c, column in enumerate(board.columns):
            yield (", " if c else "") + json_escape_controls(
                f'{{"id": {_dumps(column.id)}, "title": {_dumps(column.title)}, "cards": ['
            )
            cards = column.cards
            for start in range(0, len(cards), _CARDS_PER_PIECE):
                piece = ", ".join([_dumps(_card_json(card)) for card in cards[start : start + _CARDS_PER_PIECE]])
                yield (", " if start else "") + json_escape_controls(piece)
            yield "]}"
        yield "]}"
    yield f'], "errors": {json_escape_controls(_dumps([f.to_json() for f in result.failures]))}}}\n'


# Markdown layout: board `#`, column `##`, card `###`, the exporter's card sections `####`;
# headings inside descriptions and comments start at level 5 (see markdown_block), and every
# single-line value goes through markdown_inline, so member content cannot fake any of them.
def _quote(value: str) -> str:
    return "\n".join("> " + line if line else ">" for line in value.split("\n"))


def _markdown_card(card: ExportCard) -> list[str]:
    out = [f"### {markdown_inline(card.title)}" + (" (archived)" if card.archived else ""), ""]
    facts = [
        ("Labels", ", ".join(markdown_inline(label) for label in card.labels)),
        ("Assignees", ", ".join(markdown_inline(email) for email in card.assignees)),
        ("Milestone", markdown_inline(card.milestone or "")),
        ("Due", markdown_inline(card.due_at or "")),
        *((markdown_inline(k), markdown_inline(v)) for k, v in card.custom_fields.items()),
    ]
    out += [f"- **{name}:** {value}" for name, value in facts if value]
    if any(value for _, value in facts):
        out.append("")
    if card.description:
        out += [markdown_block(card.description), ""]
    for checklist in card.checklists:
        out += [f"#### {markdown_inline(checklist.title)}", ""]
        out += [f"- [{'x' if i.done else ' '}] {markdown_inline(i.text)}" for i in checklist.items]
        out.append("")
    if card.comments:
        out += ["#### Comments", ""]
        for comment in card.comments:
            # the attribution is the exporter's, outside the quote; the body cannot leave its quote
            attribution = f"{markdown_inline(comment.author)}, {markdown_inline(comment.created_at)}"
            out += [f"**{attribution}:**", "", _quote(markdown_block(comment.body)), ""]
    if card.attachments:
        out += ["#### Attachments", ""]
        for a in card.attachments:
            name = markdown_inline(a.name)
            # only ever the saved file's local path, percent-encoded: no scheme from the data
            link = f"[{name}]({quote(a.file)})" if a.file else name
            out.append(f"- {link} ({markdown_inline(a.mime)}, {a.size} bytes)")
        out.append("")
    return out


def board_markdown(board: ExportBoard) -> str:
    return "".join(_markdown_text(board))


def _markdown_text(board: ExportBoard) -> Iterator[str]:
    """One board's Markdown a card at a time: its lines joined by newlines, none at the end but one."""
    out = [f"# {markdown_inline(board.title)}", ""]
    if board.description:
        out += [markdown_block(board.description), ""]
    pending = ""  # the newlines that end the text so far: written only if more text follows
    for column in board.columns:
        out += [f"## {markdown_inline(column.title)}", ""]
        for card in column.cards:
            out += _markdown_card(card)
            text = pending + "\n".join(out)
            body = text.rstrip("\n")
            pending = text[len(body) :] + "\n"
            out = []
            yield body
    if board.failures:
        out += ["## Fields that could not be decrypted", ""]
        out += [
            f"- {markdown_inline(f.entity)} {markdown_inline(str(f.entity_id))} "
            f"{markdown_inline(f.field)}: {markdown_inline(f.reason)}"
            for f in board.failures
        ]
        out.append("")
    if out:
        yield (pending + "\n".join(out)).rstrip("\n")
    yield "\n"


def _markdown_name(board: ExportBoard) -> str:
    return safe_name(board.title, prefix=board.id, fallback="board") + ".md"


def _markdown(result: ExportResult) -> _Files:
    return {_markdown_name(b): _markdown_text(b) for b in result.boards}


_CSV_HEADER = [
    "boardId",
    "board",
    "columnId",
    "column",
    "cardId",
    "title",
    "description",
    "labels",
    "assignees",
    "milestone",
    "dueAt",
    "customFields",
    "comments",
    "checklistItemsDone",
    "checklistItems",
    "attachments",
    "archived",
]


def _csv(result: ExportResult) -> _Files:
    return {_SINGLE_FILE["csv"]: _csv_text(result)}


def _csv_text(result: ExportResult) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    for board in result.boards:
        for column in board.columns:
            for card in column.cards:
                items = [i for cl in card.checklists for i in cl.items]
                # every value from the server or a member goes through the cell guard, ids and dates too
                row = [
                    csv_cell(board.id),
                    csv_cell(board.title),
                    csv_cell(column.id),
                    csv_cell(column.title),
                    csv_cell(card.id),
                    csv_cell(card.title),
                    csv_cell(card.description),
                    csv_cell("; ".join(card.labels)),
                    csv_cell("; ".join(card.assignees)),
                    csv_cell(card.milestone or ""),
                    csv_cell(card.due_at or ""),
                    csv_cell(json.dumps(dict(card.custom_fields), ensure_ascii=False)) if card.custom_fields else "",
                    str(len(card.comments)),
                    str(sum(i.done for i in items)),
                    str(len(items)),
                    csv_cell("; ".join(a.file or a.name for a in card.attachments)),
                    "true" if card.archived else "false",
                ]
                writer.writerow(row)
                if buffer.tell() >= _PIECE_CHARS:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
    yield buffer.getvalue()


_CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#172b4d}
header{padding:12px 20px;background:#0b3d91;color:#fff}header a{color:#fff}
h1{margin:0 0 4px;font-size:20px}.desc{margin:0;opacity:.9}
.board{margin-bottom:24px}.columns{display:flex;gap:12px;padding:16px;overflow-x:auto;align-items:flex-start}
.column{background:#ebecf0;border-radius:8px;min-width:272px;max-width:272px;padding:8px}
.column h2{font-size:14px;margin:4px 4px 8px}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 1px rgba(9,30,66,.25);padding:8px;margin-bottom:8px}
.card.archived{opacity:.55}.card h3{font-size:14px;margin:0 0 6px}
.chip{display:inline-block;background:#dfe1e6;border-radius:3px;padding:0 6px;margin:0 4px 4px 0;font-size:12px}
.meta{font-size:12px;color:#5e6c84}.body{font-size:13px;margin:6px 0;overflow-wrap:anywhere}
.body>:first-child,.desc>:first-child{margin-top:0}.body>:last-child,.desc>:last-child{margin-bottom:0}
.body p,.body ul,.body ol,.body pre,.body table{margin:4px 0}.body ul,.body ol{padding-left:18px}
.body h4,.body h5,.body h6{font-size:13px;margin:6px 0 2px}.body pre{overflow-x:auto;background:#f4f5f7;padding:4px}
.body code{font-size:12px;background:#f4f5f7}.body table{border-collapse:collapse}
.body th,.body td{border:1px solid #dfe1e6;padding:2px 4px}.task-list-item{list-style:none}
ul.check{list-style:none;padding-left:4px;margin:4px 0;font-size:13px}
blockquote{margin:4px 0;padding:2px 8px;border-left:3px solid #dfe1e6;font-size:13px}
.errors{margin:0 16px 16px;padding:8px;background:#ffebe6;border-radius:6px;font-size:13px}
"""


#: A second line of defence behind the escaping: the page may run no script and load nothing
#: (no fonts, frames, fetches or remote images); only its own inline style applies.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _e(value: str) -> str:
    """Text or attribute value: HTML metacharacters as entities, controls shown as U+FFFD."""
    return html.escape(visible(value), quote=True)


def _html_card(card: ExportCard) -> str:
    parts = [
        f'<div class="card{" archived" if card.archived else ""}" id="card-{_e(card.id)}">',
        f"<h3>{_e(card.title)}</h3>",
    ]
    parts += [f'<span class="chip">{_e(label)}</span>' for label in card.labels]
    facts = [("👤", ", ".join(card.assignees)), ("🏁", card.milestone or ""), ("📅", card.due_at or "")]
    facts += [(name + ":", value) for name, value in card.custom_fields.items()]
    parts += [f'<div class="meta">{_e(icon)} {_e(value)}</div>' for icon, value in facts if value]
    if card.description:
        parts.append(f'<div class="body">{markdown_html(card.description)}</div>')
    for checklist in card.checklists:
        parts.append(f'<div class="meta">{_e(checklist.title)}</div><ul class="check">')
        parts += [f"<li>{'☑' if i.done else '☐'} {_e(i.text)}</li>" for i in checklist.items]
        parts.append("</ul>")
    for comment in card.comments:
        parts.append(
            f'<blockquote><div class="body">{markdown_html(comment.body)}</div>'
            f'<div class="meta">— {_e(comment.author)}, {_e(comment.created_at)}</div></blockquote>'
        )
    for a in card.attachments:
        label = f"📎 {_e(a.name)} ({_e(a.mime)}, {a.size} bytes)"
        parts.append(
            f'<div class="meta"><a href="{_e(quote(a.file))}">{label}</a></div>'
            if a.file
            else f'<div class="meta">{label}</div>'
        )
    if card.archived:
        parts.append('<div class="meta">archived</div>')
    parts.append("</div>")
    return "".join(parts)


def _html(result: ExportResult) -> _Files:
    return {_SINGLE_FILE["html"]: _html_text(result)}


def _html_text(result: ExportResult) -> Iterator[str]:
    """The page: its parts joined by newlines, each column's cards (one part) a few at a time."""
    yield "\n".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>MSKanban export {_e(result.exported_at)}</title><style>{_CSS}</style></head><body>",
        ]
    )
    for board in result.boards:
        out = [f'<section class="board" id="board-{_e(board.id)}"><header><h1>{_e(board.title)}</h1>']
        if board.description:
            out.append(f'<div class="desc">{markdown_html(board.description)}</div>')
        out.append('</header><div class="columns">')
        yield "\n" + "\n".join(out)
        for column in board.columns:
            yield f'\n<div class="column" id="column-{_e(column.id)}"><h2>{_e(column.title)}</h2>'
            cards = column.cards
            for start in range(0, len(cards), _CARDS_PER_PIECE):
                yield "".join([_html_card(card) for card in cards[start : start + _CARDS_PER_PIECE]])
            yield "</div>"
        out = ["</div>"]
        if board.failures:
            items = "".join(f"<li>{_e(str(f))}</li>" for f in board.failures)
            out.append(f'<div class="errors">Fields that could not be decrypted:<ul>{items}</ul></div>')
        out.append("</section>")
        yield "\n" + "\n".join(out)
    yield "\n</body></html>\n"


FORMATS: dict[str, Callable[[ExportResult], _Files]] = {
    "json": _json,
    "markdown": _markdown,
    "csv": _csv,
    "html": _html,
}


def _files(result: ExportResult, fmt: str) -> _Files:
    writer = FORMATS.get(fmt)
    if writer is None:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writer(result)


def render(result: ExportResult, fmt: str) -> dict[str, str]:
    """File name -> content for one format (nothing written)."""
    files = _files(result, fmt)
    with no_collections():  # rendering builds a container per card, comment and item, none cyclic
        return {name: "".join(pieces) for name, pieces in files.items()}


def file_names(result: ExportResult, fmt: str) -> list[str]:
    """The names `write_export` gives its files for `fmt`, without rendering anything."""
    if fmt == "markdown":
        return [_markdown_name(b) for b in result.boards]
    if fmt not in _SINGLE_FILE:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return [_SINGLE_FILE[fmt]]


def existing_outputs(
    result: ExportResult, formats: Iterable[str], out_dir: Path, attachments_dir: Path | None = None
) -> list[Path]:
    """The files an export of `result` would replace: its files in `out_dir`, and its attachments.

    Lets a caller refuse before anything is read from the server or written, so an earlier
    export is never overwritten without being asked to.
    """
    paths = [out_dir / name for fmt in formats for name in file_names(result, fmt)]
    if attachments_dir is not None:
        paths += [
            attachment_path(attachments_dir, a)
            for b in result.boards
            for c in b.columns
            for k in c.cards
            for a in k.attachments
            if a.file_key is not None
        ]
    return [p for p in paths if p.exists() or p.is_symlink()]


def write_export(result: ExportResult, fmt: str, out_dir: Path) -> list[Path]:
    """Write each file while it is rendered, to temporary files that replace the targets only
    once every one is complete; returns the paths written."""
    files = _files(result, fmt)
    written = []
    with contextlib.ExitStack() as replaced_at_exit, no_collections():
        for name, pieces in files.items():
            path = out_dir / name
            handle = replaced_at_exit.enter_context(atomic_open(path))
            for piece in pieces:
                handle.write(piece.encode("utf-8"))
            written.append(path)
    return written
