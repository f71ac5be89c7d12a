"""Trend charts as PNG bytes, sized for a phone: for a caseworker's channel ORS above and SRS below, with
the clinical cut-off; for the family their own ORS course alone (``srs_panel=False``, ``cutoff=None``).

matplotlib is imported inside the function, so importing this module (and the bot) stays fast, and
only the object-oriented API is used (``Figure`` + ``FigureCanvasAgg``): no pyplot, no global state,
safe in a server process.

Charts are drawn in a worker process of their own (``render_trend_chart``; ``draw_trend_chart`` draws
here). Drawing takes about 0.1 s of CPU (0.08 s with the figure kept, see _Prepared), nearly all of it
holding the GIL: in a thread of the bot's process it made every tap answered meanwhile wait for the GIL
(bench: with summaries going out, a tap's p99 87 -> 33 ms at a human pace, and 51 -> 159 presses/s in the
closed loop, when the worker draws).
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

WIDTH_PX = 800
HEIGHT_PX = 900
ORS_ONLY_HEIGHT_PX = 600  # one panel: the family's own chart
_DPI = 100
_MAX_POINTS = 40  # points on the scale: totals are 0..400 tenths
_MAX_DATE_LABELS = 12
_MAX_VALUE_LABELS = 12  # more value labels than this would overlap on a phone

_ORS_COLOUR = "#1f5fa8"
_SRS_COLOUR = "#2e7d32"
_LINE_COLOUR = "#c62828"
_CLINICAL_SHADE = "#fbe9e7"


@dataclass(frozen=True)
class ChartPoint:
    label: str  # preformatted short date, e.g. "24.11."
    ors_total: int | None  # tenths, None when not answered or an item was skipped
    srs_total: int | None  # tenths


@dataclass(frozen=True)
class ChartText:
    """Every word on the chart, already translated by the caller."""

    title: str
    ors_label: str
    srs_label: str  # "" when there is no SRS panel
    cutoff_label: str  # "" when there is no cut-off line
    srs_line_label: str
    y_label: str


def _comma(value: float, decimals: int) -> str:
    """Danish decimal comma."""
    return f"{value:.{decimals}f}".replace(".", ",")


_worker: ProcessPoolExecutor | None = None
_worker_lock = threading.Lock()
_worker_failures = 0  # in a row; after a few, charts are drawn in this process from then on
_MAX_WORKER_FAILURES = 3


def _start_worker(parent: int) -> None:
    """In the worker, first: leave as soon as the bot's process is gone. A kill -9 (or a crash) skips the
    pool's own shutdown, and the worker, holding both ends of its task queue, would wait forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="fitbot-chart-worker-watch", daemon=True).start()


def _warm_up() -> None:
    """Import matplotlib in the worker as soon as it starts (its first chart is then not the slow one)."""
    from matplotlib.backends import backend_agg  # noqa: F401


def _pool() -> ProcessPoolExecutor | None:
    global _worker
    with _worker_lock:
        if _worker_failures >= _MAX_WORKER_FAILURES:
            return None
        if _worker is None:
            # spawn, not fork: the bot's process has threads (aiosqlite, the chart thread) by now.
            _worker = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
            _worker.submit(_warm_up)
        return _worker


def _discard(pool: ProcessPoolExecutor) -> None:
    global _worker, _worker_failures
    with _worker_lock:
        if _worker is pool:
            _worker = None
            _worker_failures += 1
    pool.shutdown(wait=False, cancel_futures=True)


def render_trend_chart(
    points: Sequence[ChartPoint],
    *,
    cutoff: int | None,
    srs_threshold: int | None = None,
    text: ChartText,
    srs_panel: bool = True,
) -> bytes:
    """``draw_trend_chart`` in the chart worker process; blocks the calling thread (not the GIL) until
    the PNG is back. Call it off the event loop, as the bot does. Should the worker die, this chart is
    drawn here and the next one starts a new worker."""
    global _worker_failures
    options = {"cutoff": cutoff, "srs_threshold": srs_threshold, "text": text, "srs_panel": srs_panel}
    pool = _pool()
    if pool is None:
        return draw_trend_chart(points, **options)  # type: ignore[arg-type]
    try:
        future = pool.submit(draw_trend_chart, list(points), **options)
    except RuntimeError:  # the interpreter is shutting down: no new work for the worker
        return draw_trend_chart(points, **options)  # type: ignore[arg-type]
    try:
        png = future.result()
    except BrokenProcessPool:
        # Killed (out of memory?), or it could not start: e.g. `python -c` or stdin as the main module,
        # which a spawned process cannot import. This chart is drawn here; after a few, all of them are.
        log.warning("the chart worker process died; drawing this chart in the bot's process")
        _discard(pool)
        return draw_trend_chart(points, **options)  # type: ignore[arg-type]
    _worker_failures = 0
    return png


class _Prepared:
    """A figure with its axes, ticks and grid made once and kept: making them was about half of each
    chart's drawing time. Each chart removes the previous one's data (lines, labels, legends, shading)
    and adds its own; what stays is the same for every chart."""

    def __init__(self, srs_panel: bool) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        height = HEIGHT_PX if srs_panel else ORS_ONLY_HEIGHT_PX
        self.fig = Figure(figsize=(WIDTH_PX / _DPI, height / _DPI), dpi=_DPI)
        FigureCanvasAgg(self.fig)
        if srs_panel:
            self.fig.subplots_adjust(left=0.1, right=0.97, top=0.87, bottom=0.08, hspace=0.3)
            self.ors_ax, self.srs_ax = self.fig.subplots(2, 1, sharex=True)
        else:
            self.fig.subplots_adjust(left=0.1, right=0.97, top=0.8, bottom=0.12)
            self.ors_ax = self.srs_ax = self.fig.subplots(1, 1)
        ticks = FuncFormatter(lambda value, _pos: _comma(value, 0))
        for ax in {self.ors_ax, self.srs_ax}:
            ax.set_ylim(0, _MAX_POINTS + 5)  # headroom for a value label at 40
            ax.yaxis.set_major_locator(MultipleLocator(10))
            ax.yaxis.set_minor_locator(MultipleLocator(5))
            ax.yaxis.set_major_formatter(ticks)
            ax.tick_params(labelsize=14)
            ax.grid(axis="y", which="both", alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
        self.drawn: list[Any] = []  # the last chart's own artists

    def clear(self) -> None:
        for artist in self.drawn:
            artist.remove()
        self.drawn = []


_prepared = threading.local()  # the chart worker draws in one thread; the fallback in the bot's threads


def _prepared_figure(srs_panel: bool) -> _Prepared:
    figures: dict[bool, _Prepared] = _prepared.__dict__.setdefault("figures", {})
    if srs_panel not in figures:
        figures[srs_panel] = _Prepared(srs_panel)
    prepared = figures[srs_panel]
    prepared.clear()
    return prepared


def draw_trend_chart(
    points: Sequence[ChartPoint],
    *,
    cutoff: int | None,
    srs_threshold: int | None = None,
    text: ChartText,
    srs_panel: bool = True,
) -> bytes:
    """Draw the ORS totals, and below them the SRS totals (tenths in, points on the axes); PNG bytes.

    ``cutoff`` is the ORS clinical cut-off for the rated person's age band, drawn as a line over a
    shaded band below it; ``srs_threshold`` the SRS alliance line; both in tenths, None for no line.
    ``srs_panel=False`` draws the ORS panel alone, in a shorter image. Skipped totals leave a gap; one
    point or none still draws.
    """
    chart = _prepared_figure(srs_panel)
    fig, ors_ax, srs_ax, drawn = chart.fig, chart.ors_ax, chart.srs_ax, chart.drawn
    fig.suptitle(text.title, fontsize=20, fontweight="bold")

    xs = list(range(len(points)))
    panels = [(ors_ax, [p.ors_total for p in points], _ORS_COLOUR, text.ors_label, cutoff, text.cutoff_label)]
    if srs_panel:
        panels.append(
            (srs_ax, [p.srs_total for p in points], _SRS_COLOUR, text.srs_label, srs_threshold, text.srs_line_label)
        )
    for ax, totals, colour, label, line_at, line_label in panels:
        # NaN breaks the line, so a skipped meeting shows as a gap rather than a made-up slope.
        ys = [float("nan") if t is None else t / 10 for t in totals]
        (line,) = ax.plot(xs, ys, color=colour, linewidth=3, marker="o", markersize=10, label=label, zorder=3)
        handles = [line]
        drawn.append(line)
        if line_at is not None:
            if ax is ors_ax:
                drawn.append(ax.axhspan(0, line_at / 10, color=_CLINICAL_SHADE, zorder=0))
            handles.append(
                ax.axhline(line_at / 10, color=_LINE_COLOUR, linestyle="--", linewidth=2, label=line_label, zorder=1)
            )
            drawn.append(handles[-1])
        if len(points) <= _MAX_VALUE_LABELS:
            for x, t in zip(xs, totals, strict=True):
                if t is not None:
                    drawn.append(
                        ax.annotate(
                            _comma(t / 10, 1),
                            (x, t / 10),
                            textcoords="offset points",
                            xytext=(0, 10),
                            ha="center",
                            fontsize=13 if srs_panel else 15,
                            color=colour,
                        )
                    )
        ax.set_ylabel(text.y_label, fontsize=15)
        # Above the panel, so it never hides a point.
        drawn.append(
            ax.legend(
                handles=handles,
                loc="lower left",
                bbox_to_anchor=(0, 1),
                ncol=2,
                fontsize=13 if srs_panel else 15,
                frameon=False,
                borderaxespad=0,
            )
        )

    srs_ax.set_xlim(-0.5, max(len(points), 1) - 0.5)
    # At most about a dozen date labels, counted back from the latest so it is always labelled.
    step = -(-len(points) // _MAX_DATE_LABELS)
    labels = [p.label if (len(points) - 1 - i) % step == 0 else "" for i, p in enumerate(points)]
    srs_ax.set_xticks(xs, labels, rotation=45 if len(points) > 8 else 0)

    buffer = io.BytesIO()
    # zlib level 1: a fifth faster to encode than the default 6, the file about a quarter larger (~55 KB).
    fig.savefig(buffer, format="png", dpi=_DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
