"""Derived architectures as pictures: DARTS cells as graphs, proxyless networks as block lists.

Both read the genotype's JSON (``genotype.json``), so a picture needs no
network code. A space without a drawing here gets its ``describe`` text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OP_COLOURS = {
    "max_pool_3x3": "#8c564b",
    "avg_pool_3x3": "#e377c2",
    "skip_connect": "#7f7f7f",
    "sep_conv_3x3": "#1f77b4",
    "sep_conv_5x5": "#17becf",
    "dil_conv_3x3": "#2ca02c",
    "dil_conv_5x5": "#bcbd22",
    "none": "#d62728",
}
INPUT_NAMES = ("$c_{k-2}$", "$c_{k-1}$")
FIRST_NODE = 2
NODE_STYLE = {"boxstyle": "round,pad=0.3", "linewidth": 1.2}


def _node_positions(nodes: Sequence[int]) -> dict[int | str, tuple[float, float]]:
    """Inputs on the left, intermediate nodes left to right in a zig-zag, the cell output on the right."""
    positions: dict[int | str, tuple[float, float]] = {0: (0.0, 1.6), 1: (0.0, -1.6)}
    for position, node in enumerate(nodes):
        positions[node] = (2.6 * (position + 1), 1.1 if position % 2 == 0 else -1.1)
    positions["out"] = (2.6 * (len(nodes) + 1) + 0.4, 0.0)
    return positions


def _label(node: int | str) -> str:
    if node == "out":
        return "$c_{k}$"
    return INPUT_NAMES[node] if isinstance(node, int) and node < FIRST_NODE else str(node)


Point = tuple[float, float]


def _arc_point(start: Point, end: Point, rad: float, t: float) -> Point:
    """The point at ``t`` of matplotlib's ``arc3`` curve: a quadratic Bézier, control point off the chord."""
    (x0, y0), (x2, y2) = start, end
    cx, cy = (x0 + x2) / 2 + rad * (y2 - y0), (y0 + y2) / 2 - rad * (x2 - x0)
    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t**2
    return a * x0 + b * cx + c * x2, a * y0 + b * cy + c * y2


LABEL_POSITIONS = (0.7, 0.55, 0.82, 0.42, 0.3)
"""Where along its edge an op label may sit, in order of preference (near the target reads best)."""
NODE_HALF_WIDTH, NODE_HALF_HEIGHT = 0.45, 0.3
CHAR_WIDTH, LABEL_HALF_HEIGHT = 0.1, 0.17
"""Approximate label and node extents in data units at the figure's size (for overlap checks)."""


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Area shared by two boxes given as (centre x, centre y, half width, half height)."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0] - a[2], b[0] - b[2])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1] - a[3], b[1] - b[3])
    return max(0.0, width) * max(0.0, height)


def _free_spot(candidates: Sequence[tuple[float, float]], text: str,
               taken: list[tuple[float, float, float, float]]) -> tuple[float, float]:
    """The first candidate where the label overlaps no node or earlier label (else the least overlap)."""
    boxes = [(x, y, CHAR_WIDTH * len(text) / 2 + 0.08, LABEL_HALF_HEIGHT) for x, y in candidates]
    best = min(boxes, key=lambda box: (sum(_overlap(box, other) for other in taken) > 0,
                                       sum(_overlap(box, other) for other in taken), boxes.index(box)))
    taken.append(best)
    return best[0], best[1]


def draw_cell(ax: Any, entries: Sequence[Sequence[Any]], concat: Sequence[int], title: str) -> None:
    """One DARTS cell: each (op, input) pair of node i as an arrow input → i labelled with its op."""
    nodes = sorted({FIRST_NODE + position // 2 for position in range(len(entries))})
    where = _node_positions(nodes)
    taken = [(x, y, NODE_HALF_WIDTH, NODE_HALF_HEIGHT) for x, y in where.values()]
    for node in concat:
        ax.add_patch(FancyArrowPatch(where[node], where["out"], arrowstyle="-|>", mutation_scale=10,
                                     color="#bbbbbb", linewidth=1.0, linestyle="--", shrinkA=14, shrinkB=16))
    for position, (op, source) in enumerate(entries):
        target = FIRST_NODE + position // 2
        start, end = where[source], where[target]
        length = ((end[0] - start[0]) ** 2 + (end[1] - start[1]) ** 2) ** 0.5
        # the node's two inputs bend to opposite sides; long edges bend less (arc3's bulge grows with length)
        rad = (0.22 if position % 2 == 0 else -0.22) * min(1.0, 3.0 / length)
        colour = OP_COLOURS.get(op, "#333333")
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color=colour,
                                     linewidth=1.6, shrinkA=14, shrinkB=16,
                                     connectionstyle=f"arc3,rad={rad}"))
        x, y = _free_spot([_arc_point(start, end, rad, t) for t in LABEL_POSITIONS], op, taken)
        ax.text(x, y, op, fontsize=7.5, color=colour, ha="center", va="center", zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    for node, (x, y) in where.items():
        face = "#fff2cc" if node == "out" else "#dae8fc" if node in (0, 1) else "#e6e6e6"
        ax.text(x, y, _label(node), ha="center", va="center", fontsize=11, zorder=5,
                bbox={**NODE_STYLE, "fc": face, "ec": "#555555"})
    xs = [x for x, _ in where.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-2.6, 2.6)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=11)
    ax.axis("off")


def darts_cells_figure(genotype: Mapping[str, Any]) -> Figure:
    """The normal and the reduction cell of a darts-cell genotype, one above the other."""
    figure = Figure(figsize=(12, 7), layout="constrained")
    axes = figure.subplots(2, 1)
    for ax, cell in zip(axes, ("normal", "reduce")):
        concat = genotype.get(f"{cell}_concat", [2, 3, 4, 5])
        draw_cell(ax, genotype[cell], concat, f"{cell} cell (output $c_{{k}}$ = concat of nodes "
                                              f"{', '.join(map(str, concat))})")
    return figure


def _stage_of_blocks(skeleton: Mapping[str, Any]) -> list[tuple[int, int, int]]:
    """(stage, width, stride) of every searchable block: a stage's first block has its stride."""
    found = []
    for stage, (width, depth, stride) in enumerate(zip(skeleton["widths"], skeleton["depths"],
                                                       skeleton["strides"]), start=1):
        found.extend((stage, width, stride if index == 0 else 1) for index in range(depth))
    return found


def proxyless_blocks_figure(genotype: Mapping[str, Any]) -> Figure:
    """The searchable blocks of a proxyless-mbv2 genotype in order, one box each, grouped by stage."""
    blocks = genotype["blocks"]
    skeleton = genotype["skeleton"]
    if isinstance(skeleton, str):
        skeleton = {"widths": [0] * len(blocks), "depths": [1] * len(blocks), "strides": [1] * len(blocks)}
    stages = _stage_of_blocks(skeleton)
    columns = 6
    rows = (len(blocks) + columns - 1) // columns
    figure = Figure(figsize=(12, 1.25 * rows + 1.0), layout="constrained")
    ax = figure.subplots()
    kernels = sorted({name.split("_")[0] for name in blocks if name != "zero"})
    palette = ["#dae8fc", "#d5e8d4", "#ffe6cc", "#e1d5e7", "#fff2cc", "#f8cecc"]
    for index, name in enumerate(blocks):
        row, column = divmod(index, columns)
        x, y = column * 2.0, -row * 1.25
        stage, width, stride = stages[index] if index < len(stages) else (0, 0, 1)
        face = "#f5f5f5" if name == "zero" else palette[kernels.index(name.split("_")[0]) % len(palette)]
        ax.add_patch(FancyBboxPatch((x, y), 1.8, 1.0, boxstyle="round,pad=0.02", fc=face,
                                    ec="#999999" if name == "zero" else "#555555",
                                    linestyle="--" if name == "zero" else "-"))
        ax.text(x + 0.9, y + 0.66, name.replace("_", " "), ha="center", va="center", fontsize=9,
                color="#888888" if name == "zero" else "black")
        detail = f"block {index + 1} · stage {stage}" + (f" · {width} ch" if width else "")
        ax.text(x + 0.9, y + 0.28, detail + (" · stride 2" if stride == 2 else ""), ha="center",
                va="center", fontsize=7, color="#444444")
    ax.set_xlim(-0.2, columns * 2.0)
    ax.set_ylim(-(rows - 1) * 1.25 - 0.2, 1.2)
    ax.set_title(f"proxyless-mbv2: {len(blocks)} searchable blocks ({blocks.count('zero')} skipped as zero)",
                 fontsize=11)
    ax.axis("off")
    return figure


def text_figure(text: str, title: str) -> Figure:
    """Any other space: its own ``describe`` rendering, in a monospace box."""
    lines = text.splitlines() or [""]
    figure = Figure(figsize=(max(6.0, 0.085 * max(map(len, lines))), 0.22 * len(lines) + 0.8),
                    layout="constrained")
    ax = figure.subplots()
    ax.text(0.0, 1.0, text, family="monospace", fontsize=9, va="top", ha="left", transform=ax.transAxes)
    ax.set_title(title, fontsize=11)
    ax.axis("off")
    return figure


DRAWINGS = {"darts-cell": darts_cells_figure, "proxyless-mbv2": proxyless_blocks_figure}
