"""Draw the Grafana dashboard's layout as an SVG, with the values a real run produced.

    NEWSFLOW_DASHBOARD_CAPTURE=/tmp/capture.json \\
        .venv/bin/pytest tests/deploy/test_monitoring.py -k running_pipeline
    .venv/bin/python tools/render_dashboard.py --capture /tmp/capture.json \\
        --png docs/dashboard.png

The capture holds each panel query's result from the monitoring test's Prometheus (the
sample article twice, two invalid payloads); without it only the grid is drawn. Plain
SVG written by hand, so no plotting package is needed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "newsflow.json"

COLUMN = 50  # px per Grafana grid column (24 columns)
ROW = 30  # px per grid row unit
GAP = 6
SUBTITLE = (
    "bars: each series' value at the end of tests/deploy/test_monitoring.py "
    "(the sample article twice, two invalid payloads)"
)
COLORS = ("#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9", "#705da0")


def legend(template: str, labels: dict[str, str]) -> str:
    """A series name as Grafana shows it: the legend format with the labels filled in."""
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip() or ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"


def shown(value: float, unit: str) -> str:
    """A value in the panel's unit, briefly."""
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"
    if unit == "ops":
        return f"{value:.3g}/s"
    return f"{value:.4g}"


def unit_of(panel: dict[str, Any], name: str) -> str:
    """The unit Grafana shows a series in: the panel's, unless an override names the series."""
    config = panel.get("fieldConfig", {})
    unit: str = config.get("defaults", {}).get("unit", "short")
    for override in config.get("overrides", []):
        matcher = override["matcher"]
        pattern = (
            matcher["options"] if matcher["id"] == "byRegexp" else re.escape(matcher["options"])
        )
        if matcher["id"] in ("byRegexp", "byName") and re.fullmatch(pattern, name):
            for item in override["properties"]:
                if item["id"] == "unit":
                    unit = item["value"]
    return unit


def series(panel: dict[str, Any], capture: dict[str, Any]) -> list[tuple[str, float, str]]:
    """(name, value, unit) of every series the panel's targets returned in the capture."""
    found = []
    for target in panel.get("targets", []):
        for sample in capture.get(f"{panel['title']} / {target['refId']}", []):
            labels = {k: v for k, v in sample["metric"].items() if k != "__name__"}
            name = legend(target.get("legendFormat", ""), labels)
            found.append((name, float(sample["value"][1]), unit_of(panel, name)))
    return found


def draw_values(
    panel: dict[str, Any], values: list[tuple[str, float, str]], box: tuple[int, ...]
) -> str:
    """Bars for the latest value of each series, a big number for a stat, rows for a table."""
    x, y, w, h = box
    if panel["type"] == "stat" and values:
        _name, value, unit = values[0]
        return (
            f'<text x="{x + w / 2}" y="{y + h / 2 + 14}" text-anchor="middle" '
            f'font-size="34" fill="#7eb26d">{escape(shown(value, unit))}</text>'
        )
    if panel["type"] == "table":
        parts = []
        for i, (name, value, _unit) in enumerate(values[: max(1, (h - 10) // 16)]):
            text = escape(f"×{value:g}  {name}"[: int(w / 6)])
            parts.append(f'<text x="{x + 8}" y="{y + 16 + 16 * i}" font-size="10">{text}</text>')
        return "".join(parts)
    # One scale per unit: seconds and entries per batch share a panel, not an axis.
    top: dict[str, float] = {}
    for _name, value, unit in values:
        if not math.isnan(value):
            top[unit] = max(top.get(unit, 0.0), value)
    line = min(18, max(11, (h - 8) // max(1, len(values))))
    parts = []
    for i, (name, value, unit) in enumerate(values[: max(1, (h - 8) // line)]):
        row_y = y + 6 + i * line
        scale = top.get(unit) or 1.0
        length = max(1.0, 0.0 if math.isnan(value) else (w * 0.32) * value / scale)
        color = COLORS[i % len(COLORS)]
        parts.append(
            f'<rect x="{x + w * 0.5}" y="{row_y}" width="{length:.1f}" '
            f'height="{line - 4}" fill="{color}"/>'
            f'<text x="{x + 6}" y="{row_y + line - 6}" font-size="10">{escape(name[:38])}</text>'
            f'<text x="{x + w * 0.5 + length + 4:.1f}" y="{row_y + line - 6}" '
            f'font-size="10">{escape(shown(value, unit))}</text>'
        )
    return "".join(parts)


def render(dashboard: dict[str, Any], capture: dict[str, Any]) -> str:
    """The SVG document of the dashboard's grid."""
    panels = dashboard["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = 24 * COLUMN + GAP, bottom * ROW + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="Helvetica, Arial, sans-serif" fill="#d8d9da">',
        f'<rect width="{width}" height="{height}" fill="#111217"/>',
        f'<text x="{GAP}" y="24" font-size="18">{escape(dashboard["title"])}</text>',
        f'<text x="{width - GAP}" y="24" font-size="10" fill="#8e8e8e" text-anchor="end">'
        f"{escape(SUBTITLE if capture else 'layout only: no capture given')}</text>",
    ]
    for panel in panels:
        grid = panel["gridPos"]
        x, y = grid["x"] * COLUMN + GAP, grid["y"] * ROW + 36
        w, h = grid["w"] * COLUMN - GAP, grid["h"] * ROW - GAP
        if panel["type"] == "row":
            out.append(f'<text x="{x}" y="{y + 20}" font-size="15" font-weight="bold">')
            out.append(f"{escape(panel['title'])}</text>")
            continue
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="3" fill="#181b1f" ')
        out.append('stroke="#2c3235"/>')
        out.append(f'<text x="{x + 8}" y="{y + 18}" font-size="12" font-weight="bold">')
        out.append(f"{escape(panel['title'])}</text>")
        out.append(f'<text x="{x + w - 8}" y="{y + 18}" font-size="9" text-anchor="end" ')
        out.append(f'fill="#8e8e8e">{escape(panel["type"])}</text>')
        values = series(panel, capture)
        if values:
            out.append(draw_values(panel, values, (x, y + 24, w, h - 28)))
        else:
            for i, target in enumerate(panel.get("targets", [])[:3]):
                expr = escape(target["expr"][: int(w / 6)])
                out.append(f'<text x="{x + 8}" y="{y + 40 + 14 * i}" font-size="9" ')
                out.append(f'font-family="monospace" fill="#8e8e8e">{expr}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    """Write the SVG (docs/dashboard.svg by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--capture", type=Path, help="query results from the monitoring test")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.svg")
    parser.add_argument("--png", type=Path, help="also a PNG, with rsvg-convert (librsvg2-bin)")
    args = parser.parse_args()
    dashboard = json.loads(args.dashboard.read_text())
    capture = json.loads(args.capture.read_text()) if args.capture else {}
    args.out.write_text(render(dashboard, capture))
    print(f"wrote {args.out}")
    if args.png:
        converter = shutil.which("rsvg-convert")
        if converter is None:
            raise SystemExit("rsvg-convert not found: apt-get install librsvg2-bin")
        # A fixed tool on paths the user gave: nothing from untrusted input.
        subprocess.run([converter, str(args.out), "-o", str(args.png)], check=True)  # noqa: S603
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
