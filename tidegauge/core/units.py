"""Durations and numbers as people write and read them: the one parser of durations in the
project file, the CLI and the SDK, and the formatting every surface (CLI, web, Slack, e-mail)
uses, so that a value reads the same wherever it is shown.

>>> parse_duration("1h30m"), parse_duration("2d")
(datetime.timedelta(seconds=5400), datetime.timedelta(days=2))
>>> duration(28_800), duration(5400), duration(42)
('8 h', '1 h 30 min', '42 s')
>>> number(77_510.4), number(2.7456e-05), number(33.04)
('77,510', '0.0000275', '33')
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

__all__ = [
    "DURATION_HINT",
    "duration",
    "number",
    "parse_duration",
    "percent",
    "plural",
    "value",
]

DURATION_HINT = "use e.g. 90s, 15m, 6h, 1h30m, 2d or 1w"

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
# one or more <number><unit> parts, largest unit first is customary but not required
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[wdhms])+")
# ISO 8601 (``PT2H``, ``P1DT6H``), which pydantic and JSON clients send
_ISO = re.compile(
    r"p(?:(?P<w>\d+(?:\.\d+)?)w)?(?:(?P<d>\d+(?:\.\d+)?)d)?"
    r"(?:t(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?)?"
)


def parse_duration(value: Any) -> timedelta:
    """A duration from ``90s``, ``15m``, ``6h``, ``1h30m``, ``2d``, ``1w``, ISO 8601
    (``PT2H``), a number of seconds, or a :class:`~datetime.timedelta`.

    Raises:
        ValueError: anything else, including negative and non-finite numbers; the message
            says what is accepted (pydantic shows it next to the key and line).

    >>> parse_duration(" 1H 30M "), parse_duration(60)
    (datetime.timedelta(seconds=5400), datetime.timedelta(seconds=60))
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ...
    ValueError: 'soon' is not a duration (use e.g. 90s, 15m, 6h, 1h30m, 2d or 1w)
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({DURATION_HINT})")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration ({DURATION_HINT})")
        return timedelta(seconds=float(value))
    text = re.sub(r"\s+", "", str(value)).lower()
    if text.isdigit():
        return timedelta(seconds=int(text))
    iso = _ISO.fullmatch(text)
    if iso and text not in ("p", "pt") and not text.endswith("t"):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for u, n in iso.groupdict().items() if n)
    elif text and _WHOLE.fullmatch(text):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"'{value}' is not a duration ({DURATION_HINT})")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"'{value}' is too long a duration") from None


def duration(seconds: float, *, parts: int = 2) -> str:
    """A duration for reading: the ``parts`` largest units, rounded, never ``-0s``.

    >>> duration(0), duration(59.6), duration(90061), duration(-7200)
    ('0 s', '1 min', '1 d 1 h', '-2 h')
    >>> duration(1_209_600)
    '2 w'
    """
    if not math.isfinite(seconds):
        return "–"
    sign = "-" if seconds < 0 else ""
    left = round(abs(seconds))
    if left == 0:
        return "0 s"
    names = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
    # round to the smallest unit that will be shown, so 59.6 s reads "1 min", not "60 s"
    first = next(i for i, (_, size) in enumerate(names) if left >= size)
    last = min(first + parts - 1, len(names) - 1)
    unit = names[last][1]
    left = round(left / unit) * unit
    out: list[str] = []
    for name, size in names[: last + 1]:
        if left >= size:
            out.append(f"{left // size} {name}")
            left %= size
    return sign + " ".join(out[:parts])


def number(x: float | None, *, digits: int = 3) -> str:
    """A number for reading: whole numbers with thousands separators, others to ``digits``
    significant figures, never in scientific notation.

    >>> number(1234567), number(0.5), number(9.714), number(None), number(-0.0)
    ('1,234,567', '0.5', '9.71', '–', '0')
    """
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= digits - 1:
        return f"{round(x):,}"
    decimals = digits - 1 - magnitude
    text = f"{x:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def percent(ratio: float | None) -> str:
    """A share (0..1) as a percentage with the precision its size needs.

    >>> percent(0.125), percent(0.0004), percent(1.0), percent(0)
    ('12.5%', '0.04%', '100%', '0%')
    """
    if ratio is None or not math.isfinite(ratio):
        return "–"
    return number(ratio * 100) + "%"


def plural(n: float, noun: str) -> str:
    """``n`` with its noun, singular for exactly one (nouns in the catalogue are plural).

    >>> plural(1, "rows"), plural(29, "rows"), plural(0, "rows")
    ('1 row', '29 rows', '0 rows')
    """
    word = noun[:-1] if n == 1 and noun.endswith("s") else noun
    return f"{number(n)} {word}".rstrip()


def value(x: float | None, unit: str, noun: str = "") -> str:
    """A metric value in its catalogue unit (``rows``, ``ratio``, ``seconds`` …).

    >>> value(0.12, "ratio"), value(28_800, "seconds"), value(25, "rows", "rows")
    ('12%', '8 h', '25 rows')
    >>> value(9.71, "characters")
    '9.71 characters'
    """
    if x is None or not math.isfinite(x):
        return "–"
    if unit == "ratio":
        return percent(x)
    if unit == "seconds":
        return duration(x)
    if unit == "characters":
        return plural(x, "characters")
    if unit == "bytes":
        return _bytes(x)
    if unit in ("rows", "values") and noun:
        return plural(x, noun)
    return number(x)


def _bytes(x: float) -> str:
    for name in ("B", "KB", "MB", "GB", "TB"):
        if abs(x) < 1024 or name == "TB":
            return f"{number(x)} {name}"
        x /= 1024
    return number(x)  # pragma: no cover - the loop always returns
