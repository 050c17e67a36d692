"""Hand-drawn inline SVG charts for the report: no script, no network, no
font of their own (text inherits the page's). Each chart is a supplement to
a table that holds the same figures, so it carries a title and a short text
description for screen readers (``role="img"``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

BAR_COLOUR = "#3b6ea5"
MARK_COLOUR = "#c0392b"
SECOND_COLOUR = "#e5a13b"
_LABEL_WIDTH = 150
_ROW_HEIGHT = 22
_PLOT_WIDTH = 420


def _frame(chart_id: str, title: str, description: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="{escape(chart_id)}"'
        f' aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc"'
        f' width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="chart">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>{body}</svg>'
    )


def _scale(values: Sequence[float]) -> float:
    top = max((v for v in values if v is not None), default=0.0)
    return top if top > 0 else 1.0


def bars_with_marks(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float, float | None]],
    fmt: Callable[[float], str],
    mark_name: str,
) -> str:
    """Horizontal bars (``value``) with a vertical mark (``mark``, e.g. the
    expected count) per labelled row."""
    top = _scale([v for _, v, _ in rows] + [m for _, _, m in rows if m is not None])
    width, height = _LABEL_WIDTH + _PLOT_WIDTH + 70, _ROW_HEIGHT * len(rows) + 30
    parts = []
    for i, (label, value, mark) in enumerate(rows):
        y = 10 + i * _ROW_HEIGHT
        length = _PLOT_WIDTH * value / top
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{_ROW_HEIGHT - 8}"'
            f' fill="{BAR_COLOUR}"/>'
            f'<text x="{_LABEL_WIDTH + length + 4:.1f}" y="{y + 14}">{escape(fmt(value))}</text>'
        )
        if mark is not None:
            x = _LABEL_WIDTH + _PLOT_WIDTH * mark / top
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + _ROW_HEIGHT - 2}"'
                f' stroke="{MARK_COLOUR}" stroke-width="3"/>'
            )
    legend_y = height - 8
    parts.append(
        f'<rect x="{_LABEL_WIDTH}" y="{legend_y - 9}" width="10" height="10" fill="{BAR_COLOUR}"/>'
        f'<text x="{_LABEL_WIDTH + 14}" y="{legend_y}">actual</text>'
        f'<line x1="{_LABEL_WIDTH + 80}" x2="{_LABEL_WIDTH + 80}" y1="{legend_y - 10}" y2="{legend_y + 1}"'
        f' stroke="{MARK_COLOUR}" stroke-width="3"/>'
        f'<text x="{_LABEL_WIDTH + 86}" y="{legend_y}">{escape(mark_name)}</text>'
    )
    description = "; ".join(
        f"{label}: {fmt(value)}" + ("" if mark is None else f" ({mark_name} {fmt(mark)})")
        for label, value, mark in rows
    )
    return _frame(chart_id, title, description, width, height, "".join(parts))


def histogram(chart_id: str, title: str, bins: Sequence[tuple[str, int]], highlight: int | None = None) -> str:
    """Vertical bars of counts per labelled bin; bins up to ``highlight`` (an
    index) are drawn in the main colour, later ones in the warning colour."""
    top = _scale([n for _, n in bins])
    column, plot_height, top_margin = 70, 160, 20  # the margin holds the tallest bar's count
    width, height = column * len(bins) + 20, plot_height + top_margin + 40
    parts = []
    for i, (label, n) in enumerate(bins):
        x = 10 + i * column
        bar = plot_height * n / top
        base = top_margin + plot_height
        colour = BAR_COLOUR if highlight is None or i <= highlight else SECOND_COLOUR
        parts.append(
            f'<rect x="{x + 8}" y="{base - bar:.1f}" width="{column - 16}" height="{bar:.1f}"'
            f' fill="{colour}"/>'
            f'<text x="{x + column / 2}" y="{base - bar - 4:.1f}" text-anchor="middle">{n}</text>'
            f'<text x="{x + column / 2}" y="{base + 18}" text-anchor="middle">{escape(label)}</text>'
        )
    description = "; ".join(f"{label}: {n}" for label, n in bins)
    return _frame(chart_id, title, description, width, height, "".join(parts))


def stacked_bars(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float | None, float | None]],
    names: tuple[str, str],
    fmt: Callable[[float], str],
) -> str:
    """Two-part horizontal bars per labelled row (e.g. routing delay, then rep delay)."""
    top = _scale([(a or 0.0) + (b or 0.0) for _, a, b in rows])
    width = max(_LABEL_WIDTH + _PLOT_WIDTH + 150, _LABEL_WIDTH + 60 + 7 * (len(names[0]) + len(names[1])))
    height = _ROW_HEIGHT * len(rows) + 30
    parts = []
    for i, (label, a, b) in enumerate(rows):
        y = 10 + i * _ROW_HEIGHT
        first = _PLOT_WIDTH * (a or 0.0) / top
        second = _PLOT_WIDTH * (b or 0.0) / top
        text = f"{'-' if a is None else fmt(a)} + {'-' if b is None else fmt(b)}"
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{first:.1f}" height="{_ROW_HEIGHT - 8}"'
            f' fill="{SECOND_COLOUR}"/>'
            f'<rect x="{_LABEL_WIDTH + first:.1f}" y="{y + 3}" width="{second:.1f}" height="{_ROW_HEIGHT - 8}"'
            f' fill="{BAR_COLOUR}"/>'
            f'<text x="{_LABEL_WIDTH + first + second + 4:.1f}" y="{y + 14}">{escape(text)}</text>'
        )
    legend_y = height - 8
    second_x = _LABEL_WIDTH + 40 + 7 * len(names[0])  # about 7 px a character at 12 px
    parts.append(
        f'<rect x="{_LABEL_WIDTH}" y="{legend_y - 9}" width="10" height="10" fill="{SECOND_COLOUR}"/>'
        f'<text x="{_LABEL_WIDTH + 14}" y="{legend_y}">{escape(names[0])}</text>'
        f'<rect x="{second_x}" y="{legend_y - 9}" width="10" height="10" fill="{BAR_COLOUR}"/>'
        f'<text x="{second_x + 14}" y="{legend_y}">{escape(names[1])}</text>'
    )
    description = "; ".join(
        f"{label}: {names[0]} {'-' if a is None else fmt(a)}, {names[1]} {'-' if b is None else fmt(b)}"
        for label, a, b in rows
    )
    return _frame(chart_id, title, description, width, height, "".join(parts))
