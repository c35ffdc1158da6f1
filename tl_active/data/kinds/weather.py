"""Weather windows as a data kind: one city's last days, named by city and day, drawn as a chart.

An item is named by its city and the window's last day ("Chicago 2016-12-18"); its truth is
the recorded events of that day or the next, as the question asks. A tile is a small chart of
the window: average temperature (red, on a pale blue band below freezing), dew point (green),
pressure (purple) and visibility (grey), each on one scale for every city, so that a cold spell
in Chicago sits lower than a mild one in Auckland. Precipitation and events are not drawn:
they are what is asked. A page names the tile by its title (`tile_title`) and says what its
lines are once, beside the batch (`tile_legend`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tl_active.data.kinds.base import DataKind
from tl_active.data.weather import MEASUREMENTS, TEST_YEAR, TRAIN_YEAR, WeatherWindows
from tl_active.paths import PROJECT_ROOT

# (column, colour) of each line of a tile, drawn in this order.
LINES = (
    ("avg_vis", (150, 150, 150)),
    ("avg_hg", (128, 60, 160)),
    ("avg_dewpt", (40, 140, 60)),
    ("avg_temp", (210, 40, 30)),
)
FREEZING_F = 32.0
_SUPERSAMPLE = 3  # drawn larger and scaled down, so thin lines stay smooth
HEIGHT_SHARE = 0.7  # a chart's height for its width: days run across, so it is wider than high


@dataclass(frozen=True, eq=False)
class WeatherKind(DataKind):
    """The windows of `windows` (one question's pool and test windows)."""

    windows: WeatherWindows
    class_names: tuple[str, ...] = ()

    name = "weather windows"
    items = "windows"
    item = "window"
    class_word = "answer"
    truth = "the recorded events"
    truth_is_plural = True
    true_class = "the recorded events"
    auto_answerer = "recorded events (auto)"
    item_column = "city and day"
    fine_tunable = True  # the weather network reads the windows again, as the CNN reads digits
    tile_px = 150  # wide enough for a readable fortnight, two tiles abreast beside the head
    # A fortnight's four lines need about 7 px a day: 104 px wide, as the rows of the history
    # are high enough for (the narrowest chart the page's tests call readable is 100 px).
    history_px = 104
    history_row_px = round(104 * HEIGHT_SHARE)
    tile_legend = (
        "Each chart is a window's days, oldest on the left: average temperature (red, over a "
        "blue band below freezing), dew point (green), pressure (purple), visibility (grey), "
        "each on one scale for all five cities."
    )

    def __post_init__(self) -> None:
        if not self.class_names:
            object.__setattr__(self, "class_names", self.windows.question.class_names)

    @property
    def has_truth(self) -> bool:
        return True

    def item_id(self, index: int) -> str:
        return self.windows.pool_name(index)

    def item_name(self, index: int) -> str:
        return f"{self.windows.pool_name(index)} ({self.windows.days} days to it)"

    def short_name(self, index: int) -> str:
        return self.windows.pool_name(index)

    def test_item_id(self, index: int) -> str:
        return self.windows.test_name(index)

    def thumbnail_png(self, index: int, size: int) -> bytes:
        # Named by the tile's title, in text a page draws at its own size: the chart keeps its
        # whole height for the lines.
        return window_chart(self.windows, int(self.windows.pool_end[index]), size, named=False)

    def network_inputs(self, indices) -> np.ndarray:
        return self.windows.x_pool[np.asarray(indices, np.intp)]

    def tile_title(self, index: int) -> str:
        return self.windows.pool_name(index)

    def says(self, class_name: str) -> str:
        day = "that day" if self.windows.question.ahead == 0 else "the next day"
        return f"the recorded events of {day} say {class_name}"

    def test_split(self, n_test: int) -> str:
        return (
            f"held-out test split: the {n_test:,} windows of {TEST_YEAR} (every pool window "
            f"lies wholly in {TRAIN_YEAR})"
        )

    @property
    def origin(self) -> str:
        path = Path(self.windows.table.path)
        # The shipped table by its place in the project, not this machine's absolute path.
        shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
        return f"{shown} ({self.windows.days}-day windows; {self.windows.question.text})"


def window_chart(windows: WeatherWindows, end: int, size: int, named: bool = True) -> bytes:
    """The window ending at table row `end` as a PNG chart `size` wide and `HEIGHT_SHARE` of
    that high (see the module): a week's gridline before the last 7 days; `named`: with its
    city and day written over it, on charts of 96 pixels and more."""
    table = windows.table
    rows = np.arange(end - windows.days + 1, end + 1)
    wide, high = size * _SUPERSAMPLE, round(size * HEIGHT_SHARE) * _SUPERSAMPLE
    image = Image.new("RGB", (wide, high), "white")
    draw = ImageDraw.Draw(image)
    label = named and size >= 96
    top = high * 0.2 if label else high * 0.05
    bottom = high * 0.95
    xs = np.linspace(wide * 0.03, wide * 0.97, windows.days)

    def y_of(column: str, values: np.ndarray) -> np.ndarray:
        # One scale per measurement over every city and day, so levels compare across cities.
        everything = table.values[:, MEASUREMENTS.index(column)]
        low, high = float(everything.min()), float(everything.max())
        share = (values - low) / max(high - low, 1e-6)
        return bottom - share * (bottom - top)

    freezing = float(y_of("avg_temp", np.array([FREEZING_F]))[0])
    if freezing < bottom:
        draw.rectangle([0, max(freezing, top), wide, bottom], fill=(222, 236, 250))
    width = max(1, round(wide / 60))
    for day in range(windows.days - 7, 0, -7):  # weeks counted back from the last day
        x = float(xs[day] + xs[day - 1]) / 2
        draw.line([(x, top), (x, bottom)], fill=(215, 215, 215), width=max(1, width // 2))
    for column, colour in LINES:
        ys = y_of(column, table.values[rows, MEASUREMENTS.index(column)])
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=width)
    if label:
        text = f"{table.city[end]} {table.date[end]}"
        # As large as fits: "San Diego 2016-03-10" is the longest name.
        font_size = high * 0.13
        font_size *= min(1.0, wide * 0.94 / draw.textlength(text, font_size=font_size))
        draw.text((wide * 0.03, high * 0.01), text, fill="black", font_size=font_size)
    image = image.resize((size, round(size * HEIGHT_SHARE)), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
