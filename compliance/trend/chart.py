"""Geometry of the weekly verdict trend as stacked bars, for a server-rendered SVG (pure: points in,
numbers out; the template draws them). No JavaScript is needed to read the chart."""
import math

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 34


def _nice_top(value: int) -> int:
    """The smallest 1/2/5 x 10^n at or above `value`, so the axis reads in round numbers."""
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.floor(math.log10(value)))
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def trend_chart(points) -> dict:
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_top(max((p.total for p in points), default=0))
    slot = plot_width / max(len(points), 1)
    label_every = max(1, math.ceil(len(points) / 13))  # about a dozen labels at most
    scale = plot_height / top
    bars = []
    for i, point in enumerate(points):
        ok_height, bad_height = point.compliant * scale, point.noncompliant * scale
        base = TOP + plot_height
        bars.append({
            "x": round(LEFT + i * slot + slot * 0.15, 1), "width": round(slot * 0.7, 1),
            "ok_y": round(base - ok_height, 1), "ok_height": round(ok_height, 1),
            "bad_y": round(base - ok_height - bad_height, 1), "bad_height": round(bad_height, 1),
            "label_x": round(LEFT + i * slot + slot / 2, 1),
            "label": point.label.split("-")[1] if (len(points) - 1 - i) % label_every == 0 else "",
            "point": point,
        })
    step = 1 if top <= 5 else top // 5  # every nice top above 5 divides by 5: ticks stay whole numbers
    values = range(0, top + 1, step)
    ticks = [{"value": v, "y": round(TOP + plot_height - v * scale, 1)} for v in values]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "baseline": TOP + plot_height,
            "label_y": HEIGHT - BOTTOM + 16, "bars": bars, "ticks": ticks}
