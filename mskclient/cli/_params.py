"""Values typed on the command line, checked and normalised before any request is sent.

A bad date or colour is refused here with exit code 2 and an example, instead of travelling
to the server and coming back as a 400 (exit 4).  Names are compared after Unicode NFC
normalisation, so a title typed on macOS (NFD) finds the card the web app created (NFC).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

import click

__all__ = ["checkbox_value", "color", "color_option", "due_date", "due_option", "field_value", "same_name"]

_F = TypeVar("_F", bound=Callable[..., Any])

_RELATIVE = re.compile(r"\+(\d{1,4})([dw])")
_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})")
_DATE_EXAMPLE = "e.g. 2026-12-24, 2026-12-24T17:00, 2026-12-24T17:00+01:00, today, tomorrow or +3d"


def _end_of_day(day: datetime) -> datetime:
    """A due date given as a day means the end of that day, in the local time zone."""
    return datetime.combine(day.date(), time(23, 59, 59, 999000)).astimezone()


def due_date(text: str, *, now: datetime | None = None) -> str:
    """`text` as the ISO 8601 instant the profile stores (UTC, milliseconds).

    Accepted: an ISO 8601 date-time with an offset; one without (local time zone); a date
    alone, `today`, `tomorrow`, `+Nd` or `+Nw` (the end of that day, local time).
    ValueError with an example otherwise.
    """
    value = text.strip()
    local_now = (now or datetime.now(UTC)).astimezone()
    lowered = value.lower()
    relative = _RELATIVE.fullmatch(lowered)
    if lowered in ("today", "tomorrow"):
        moment = _end_of_day(local_now + timedelta(days=lowered == "tomorrow"))
    elif relative:
        count, unit = int(relative.group(1)), relative.group(2)
        moment = _end_of_day(local_now + timedelta(days=count * (7 if unit == "w" else 1)))
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a date: {text!r} ({_DATE_EXAMPLE})") from None
        if len(value) <= len("2026-12-24"):
            moment = _end_of_day(parsed)
        else:
            moment = parsed if parsed.tzinfo is not None else parsed.astimezone()
    stamp = moment.astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def color(text: str) -> str:
    """`#rrggbb`, `#rgb` or a CSS colour name, as lower-case `#rrggbb`; ValueError otherwise."""
    value = text.strip().lower()
    match = _HEX.fullmatch(value)
    if match:
        digits = match.group(1)
        return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)
    import webcolors  # only when a name is given

    try:
        return str(webcolors.name_to_hex(value))
    except ValueError:
        raise ValueError(f"not a colour: {text!r} (use #rrggbb, #rgb or a CSS name such as teal)") from None


_TRUE = ("true", "yes", "on", "1", "x", "✓")
_FALSE = ("false", "no", "off", "0", "")


def checkbox_value(text: str) -> str:
    """A checkbox value as stored: `true` or `false`."""
    value = text.strip().lower()
    if value in _TRUE:
        return "true"
    if value in _FALSE:
        return "false"
    raise ValueError(f"not a checkbox value: {text!r} (use true or false)")


def field_value(kind: str, text: str, options: tuple[str, ...] | list[str] = ()) -> str:
    """A custom-field value checked against the field's type (text, number, date, select, checkbox)."""
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"not a number: {text!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"not a finite number: {text!r}")
        return text.strip()
    if kind == "date":
        return due_date(text)
    if kind == "checkbox":
        return checkbox_value(text)
    if kind == "select" and not any(same_name(text, option) for option in options):
        raise ValueError(f"{text!r} is not an option; the options are: {', '.join(options) or 'none'}")
    if kind == "select":
        return next(option for option in options if same_name(text, option))
    return text


def same_name(a: str, b: str) -> bool:
    """Whether two names are the same text once both are in Unicode NFC."""
    return unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def _checked(convert: Callable[[str], str], *, empty_clears: bool = False) -> Callable[..., str | None]:
    """An option callback running `convert` on the value; its ValueError becomes click's exit-2 error."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None or (empty_clears and value == ""):
            return value
        try:
            return convert(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return callback


def due_option(*, clears: bool = False) -> Callable[[_F], _F]:
    """`--due DATE` (see `due_date`); on an edit (`clears`), '' removes the date."""
    if clears:
        return click.option(
            "--due", "due_at", callback=_checked(due_date, empty_clears=True), metavar="DATE",
            help="Due date, as on create ('' clears it).",
        )  # fmt: skip
    return click.option(
        "--due", "due_at", callback=_checked(due_date), metavar="DATE",
        help="Due date: ISO 8601 (local time zone when it has no offset), a day (its end), today, tomorrow or +3d.",
    )  # fmt: skip


def color_option(default: str | None = None) -> Callable[[_F], _F]:
    """`--color COLOUR` (see `color`)."""
    return click.option(
        "--color", callback=_checked(color), metavar="COLOUR", default=default, show_default=default is not None,
        help="#rrggbb, #rgb or a CSS colour name (normalised to #rrggbb).",
    )  # fmt: skip
