import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.charts import HEIGHT_PX, WIDTH_PX, ChartPoint, ChartText, _comma, render_trend_chart

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
