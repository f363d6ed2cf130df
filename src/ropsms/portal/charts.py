"""A server-drawn SVG bar chart of message states (no chart library, no CDN, no inline style)."""

from __future__ import annotations

from dataclasses import dataclass

from ropsms.messaging.models import State

# Colours chosen for contrast on white and to read without colour (each bar is also labelled).
COLOURS = {
    "scheduled": "#6b7280", "queued": "#2563eb", "sending": "#7c3aed", "submitted": "#0891b2",
    "delivered": "#15803d", "undeliverable": "#b91c1c", "expired": "#b45309", "rejected": "#9f1239",
    "failed": "#7f1d1d", "cancelled": "#4b5563",
}


BAR_X, BAR_SPAN = 32, 58  # bars start at 32% of the width and the longest spans 58%


@dataclass
class Bar:
    state: str
    label: str
    count: int
    width: float  # percent of the chart width (the longest bar gets BAR_SPAN)
    y: int
    colour: str

    @property
    def count_x(self) -> float:
        return BAR_X + self.width + 1


def state_chart(counts: dict[str, int]) -> dict:
    top = max(counts.values()) if counts else 0
    bars = []
    for i, state in enumerate(State):
        n = counts.get(state.value, 0)
        bars.append(Bar(state=state.value, label=str(state.label), count=n,
                        width=round(BAR_SPAN * n / top, 1) if top else 0, y=i * 26 + 4,
                        colour=COLOURS[state.value]))
    return {"bars": bars, "height": len(bars) * 26 + 8, "x": BAR_X, "span": BAR_SPAN}
