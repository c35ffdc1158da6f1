"""Weather windows as a data kind: one city's last days, named by city and day, drawn as a chart.

An item is named by its city and the window's last day ("Chicago 2016-12-18"); its truth is
the recorded events of that day or the next, as the question asks. A tile is a small chart of
the window: average temperature (red, on a pale blue band below freezing), dew point (green),
pressure (purple) and visibility (grey), each on one scale for every city, so that a cold spell
in Chicago sits lower than a mild one in Auckland. Precipitation and events are not drawn:
they are what is asked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from tl_active.data.kinds.base import DataKind
from tl_active.data.weather import MEASUREMENTS, TEST_YEAR, TRAIN_YEAR, WeatherWindows

# (column, colour) of each line of a tile, drawn in this order.
LINES = (
    ("avg_vis", (150, 150, 150)),
    ("avg_hg", (128, 60, 160)),
    ("avg_dewpt", (40, 140, 60)),
    ("avg_temp", (210, 40, 30)),
)
FREEZING_F = 32.0
_SUPERSAMPLE = 3  # drawn larger and scaled down, so thin lines stay smooth


@dataclass(frozen=True, eq=False)
class WeatherKind(DataKind):
    """The windows of `windows` (one question's pool and test windows)."""

    windows: WeatherWindows
    class_names: tuple[str, ...] = ()

    name = "weather windows"
    items = "days"
    class_word = "answer"
    truth = "the recorded events"
    truth_is_plural = True
    true_class = "the recorded events"
    auto_answerer = "recorded events (auto)"
    item_column = "city and day"

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
        return window_chart(self.windows, int(self.windows.pool_end[index]), size)

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
        return (
            f"{self.windows.table.path} ({self.windows.days}-day windows; "
            f"{self.windows.question.text})"
        )


def window_chart(windows: WeatherWindows, end: int, size: int) -> bytes:
    """The window ending at table row `end` as a `size` x `size` PNG chart (see the module)."""
    table = windows.table
    rows = np.arange(end - windows.days + 1, end + 1)
    big = size * _SUPERSAMPLE
    image = Image.new("RGB", (big, big), "white")
    draw = ImageDraw.Draw(image)
    label = size >= 96
    top = big * 0.16 if label else big * 0.04
    bottom = big * 0.96
    xs = np.linspace(big * 0.04, big * 0.96, windows.days)

    def y_of(column: str, values: np.ndarray) -> np.ndarray:
        # One scale per measurement over every city and day, so levels compare across cities.
        everything = table.values[:, MEASUREMENTS.index(column)]
        low, high = float(everything.min()), float(everything.max())
        share = (values - low) / max(high - low, 1e-6)
        return bottom - share * (bottom - top)

    freezing = float(y_of("avg_temp", np.array([FREEZING_F]))[0])
    if freezing < bottom:
        draw.rectangle([0, max(freezing, top), big, bottom], fill=(222, 236, 250))
    width = max(1, round(big / 60))
    for column, colour in LINES:
        ys = y_of(column, table.values[rows, MEASUREMENTS.index(column)])
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=width)
    if label:
        text = f"{table.city[end]} {table.date[end]}"
        # As large as fits: "San Diego 2016-03-10" is the longest name.
        font_size = big * 0.1
        font_size *= min(1.0, big * 0.94 / draw.textlength(text, font_size=font_size))
        draw.text((big * 0.03, big * 0.01), text, fill="black", font_size=font_size)
    image = image.resize((size, size), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
