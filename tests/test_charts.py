import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from bot.charts import (
    _CLINICAL_SHADE,
    _LINE_COLOUR,
    _SRS_COLOUR,
    HEIGHT_PX,
    ORS_ONLY_HEIGHT_PX,
    WIDTH_PX,
    ChartPoint,
    ChartText,
    _comma,
    draw_trend_chart,
    render_trend_chart,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT = ChartText(
    title="Trivsel og samarbejde",
    ors_label="ORS (trivsel)",
    srs_label="SRS (samarbejde)",
    cutoff_label="Klinisk grænse 32",
    srs_line_label="Grænse 36",
    y_label="Point",
)
COURSE = [
    ChartPoint("3.9.", 180, 340),
    ChartPoint("17.9.", 225, 372),
    ChartPoint("1.10.", None, 380),
    ChartPoint("15.10.", 275, None),
    ChartPoint("29.10.", 305, 395),
    ChartPoint("12.11.", 335, 400),
]


def decode(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize(
    "points",
    [
        COURSE,
        COURSE[:1],
        [ChartPoint("3.9.", None, None)],
        [ChartPoint(f"{d}.9.", None, None) for d in range(1, 5)],
        [],
        [ChartPoint(f"{d}.10.", 4 * d, 400 - 2 * d) for d in range(1, 31)],  # a long case
        [ChartPoint("1.1.", 0, 0), ChartPoint("2.1.", 400, 400)],  # the extremes
    ],
    ids=["course", "single", "all-none", "all-none-many", "empty", "long", "extremes"],
)
def test_renders_a_phone_sized_png(points: list[ChartPoint]) -> None:
    image = decode(render_trend_chart(points, cutoff=320, srs_threshold=360, text=TEXT))
    assert image.format == "PNG"
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    assert image.width >= 600


def test_the_chart_is_not_blank() -> None:
    image = decode(render_trend_chart(COURSE, cutoff=250, srs_threshold=360, text=TEXT)).convert("RGB")
    assert len(image.getcolors(maxcolors=1_000_000) or []) > 10


FAMILY_TEXT = ChartText(
    title="Sådan har det gået",
    ors_label="Hvordan det går ifølge dine svar (0-40)",
    srs_label="",
    cutoff_label="",
    srs_line_label="",
    y_label="Point",
)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def pixels_of(image: Image.Image, colour: str) -> int:
    counts = {c: n for n, c in image.convert("RGB").getcolors(maxcolors=1_000_000) or []}
    return counts.get(rgb(colour), 0)


@pytest.mark.parametrize("points", [COURSE, COURSE[:1], []], ids=["course", "single", "empty"])
def test_the_familys_chart_is_one_calm_panel(points: list[ChartPoint]) -> None:
    family = decode(render_trend_chart(points, cutoff=None, text=FAMILY_TEXT, srs_panel=False))
    assert family.format == "PNG"
    # One panel: a shorter image than the caseworker's two (still as wide, for a phone).
    assert family.size == (WIDTH_PX, ORS_ONLY_HEIGHT_PX)
    assert ORS_ONLY_HEIGHT_PX < HEIGHT_PX
    # No red zone, no red line, and nothing drawn in the SRS colour.
    assert pixels_of(family, _CLINICAL_SHADE) == 0
    assert pixels_of(family, _LINE_COLOUR) == 0
    assert pixels_of(family, _SRS_COLOUR) == 0


def test_the_caseworkers_chart_has_the_zone_and_the_srs() -> None:
    """The check above would be empty if these colours were never drawn: the caseworker's chart has them."""
    chart = decode(render_trend_chart(COURSE, cutoff=320, srs_threshold=360, text=TEXT))
    assert pixels_of(chart, _CLINICAL_SHADE) > 1000
    assert pixels_of(chart, _LINE_COLOUR) > 100
    assert pixels_of(chart, _SRS_COLOUR) > 100


def test_a_chart_is_the_same_whatever_was_drawn_before() -> None:
    """Each thread keeps its figures for the next chart: nothing of one chart may stay for the next."""

    def course() -> bytes:
        return draw_trend_chart(COURSE, cutoff=320, srs_threshold=360, text=TEXT)

    with ThreadPoolExecutor(1) as fresh:  # a thread that has drawn nothing yet
        first = fresh.submit(course).result()
    long_case = [ChartPoint(f"{d}.10.", 4 * d, None) for d in range(1, 31)]
    draw_trend_chart(long_case, cutoff=None, text=TEXT)
    draw_trend_chart(COURSE[:2], cutoff=None, text=TEXT, srs_panel=False)
    assert course() == first
    assert course() == first


def test_decimal_comma() -> None:
    assert _comma(27.5, 1) == "27,5"
    assert _comma(30, 0) == "30"
    assert _comma(18, 1) == "18,0"


def test_importing_charts_does_not_import_matplotlib() -> None:
    code = "import sys, bot.charts; print('matplotlib' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert result.stdout.strip() == "False"
