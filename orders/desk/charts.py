"""The dashboard's charts as server-rendered SVG: no script, nothing fetched from elsewhere, readable at a
glance; every bar (or column) is a link to the filtered queue behind it."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 460
LABEL_WIDTH = 150
TEXT_WIDTH = 90
ROW = 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # what the bar says, at its end
    href: str
    behind: float | None = None  # a second, lighter measure drawn behind (the p90 behind the median)


def _scale(bars: list[Bar], room: float):
    top = max([b.value for b in bars] + [b.behind or 0 for b in bars] + [0])
    return (lambda v: 0.0 if not top else round(room * v / top, 1))


def bar_chart(chart_id: str, title: str, bars: list[Bar], *, empty: str = "Nothing in this period") -> SafeString:
    """Horizontal bars, one per row: label, bar, value."""
    if not bars:
        return format_html('<p class="desk-chart-empty" id="{}" title="{}">{}</p>', chart_id, title, empty)
    room = WIDTH - LABEL_WIDTH - TEXT_WIDTH
    scale = _scale(bars, room)
    height = ROW * len(bars) + 6
    rows = []
    for n, bar in enumerate(bars):
        y = 3 + n * ROW
        behind = format_html('<rect class="desk-bar-behind" x="{}" y="{}" width="{}" height="14"></rect>',
                             LABEL_WIDTH, y + 2, scale(bar.behind)) if bar.behind is not None else ""
        rows.append(format_html(
            '<a class="desk-bar" href="{href}" data-label="{label}"><title>{label}: {text}</title>'
            '<text class="desk-bar-label" x="{lx}" y="{ty}" text-anchor="end">{label}</text>{behind}'
            '<rect class="desk-bar-value" x="{bx}" y="{by}" width="{bw}" height="14"></rect>'
            '<text class="desk-bar-text" x="{tx}" y="{ty}">{text}</text></a>',
            href=bar.href, label=bar.label, text=bar.text, lx=LABEL_WIDTH - 6, ty=y + 13, behind=behind,
            bx=LABEL_WIDTH, by=y + 2, bw=max(scale(bar.value), 1 if bar.value else 0),
            tx=LABEL_WIDTH + max(scale(bar.value), scale(bar.behind or 0)) + 6))
    return format_html(
        '<svg id="{id}" class="desk-chart" role="img" aria-labelledby="{id}-title" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title>'
        '{rows}</svg>', id=chart_id, w=WIDTH, h=height, title=title,
        rows=format_html_join("", "{}", ((r,) for r in rows)))


def column_chart(chart_id: str, title: str, columns: list[Bar], *, height: int = 130,
                 empty: str = "Nothing in this period") -> SafeString:
    """Vertical columns over time (one per day), a label under every few."""
    if not columns:
        return format_html('<p class="desk-chart-empty" id="{}" title="{}">{}</p>', chart_id, title, empty)
    room = height - 30
    scale = _scale(columns, room)
    step = (WIDTH - 10) / len(columns)
    every = max(1, len(columns) // 6)
    cells = []
    for n, column in enumerate(columns):
        x = 5 + n * step
        h = max(scale(column.value), 1 if column.value else 0)
        label = format_html('<text class="desk-col-label" x="{}" y="{}" text-anchor="middle">{}</text>',
                            min(round(x + step / 2, 1), WIDTH - 16), height - 4,  # the last label inside the chart
                            column.label) if n % every == 0 else ""
        cells.append(format_html(
            '<a class="desk-bar" href="{href}" data-label="{label}"><title>{label}: {text}</title>'
            '<rect class="desk-bar-value" x="{x}" y="{y}" width="{w}" height="{h}"></rect>{under}</a>',
            href=column.href, label=column.label, text=column.text, x=round(x + 1, 1), y=round(room - h + 8, 1),
            w=round(max(step - 2, 1), 1), h=h, under=label))
    return format_html(
        '<svg id="{id}" class="desk-chart" role="img" aria-labelledby="{id}-title" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{title}</title>'
        '{cells}</svg>', id=chart_id, w=WIDTH, h=height, title=title,
        cells=format_html_join("", "{}", ((c,) for c in cells)))
