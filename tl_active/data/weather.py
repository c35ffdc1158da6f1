"""Daily weather in five cities as windows: the last N days of one city, and a question about them.

The table (`data/weather.csv`, see `data/weather.md`) holds 731 days of 17 measurements for
each of Auckland, Beijing, Chicago, Mumbai and San Diego, with the day's precipitation and
events. An item is one city's window of `days` consecutive days ending on a day, named by city
and that day ("Chicago 2016-12-18"); its answer is whether it rained or snowed ("wet") or snowed
on that day ("today") or the next ("tomorrow").

Each window day has the 17 measurements, the precipitation and a rain and a snow flag. For the
"today" questions the last day's precipitation and flags are zero whatever the record says, so
the answer has to be read from temperature, dew point, humidity, pressure, visibility and wind.
Measurements are standardised with one mean and spread over all cities (snow needs absolute
cold, which scaling each city on its own would hide), taken from the training year only.

The split is in time: pool windows lie wholly in 2016 (their answer's day too), test windows
wholly in 2017, so no window of the test year is ever seen in training. Within the pool,
`blocked_folds` cuts the year into blocks of consecutive days dealt round the folds, so that
every fold holds winter (and snow) days.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tl_active.errors import DataError
from tl_active.paths import DATA_DIR

WEATHER_PATH = DATA_DIR / "weather.csv"
# `low_wind` is missing on a third of the days, so it is left out.
MEASUREMENTS = (
    "high_temp",
    "avg_temp",
    "low_temp",
    "high_dewpt",
    "avg_dewpt",
    "low_dewpt",
    "high_humidity",
    "avg_humidity",
    "low_humidity",
    "high_hg",
    "avg_hg",
    "low_hg",
    "high_vis",
    "avg_vis",
    "low_vis",
    "high_wind",
    "avg_wind",
)
# What the "today" questions hide on a window's last day: they are its answer.
PRECIPITATION = ("precip", "rain", "snow")
CHANNELS = MEASUREMENTS + PRECIPITATION
TRACE = 0.005  # inches for "T" (a trace): half the smallest amount recorded
TRAIN_YEAR, TEST_YEAR = 2016, 2017
DEFAULT_DAYS = 14


@dataclass(frozen=True)
class Question:
    """What is asked of a window: which events make it positive, on its last day or the next."""

    name: str  # as the command line spells it: "snow-today"
    text: str  # as a sentence asks it: "snow today"
    events: frozenset[str]
    ahead: int  # 0: the window's last day; 1: the day after it
    class_names: tuple[str, str]  # (negative, positive)


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in (
        Question("wet-today", "rain or snow today", frozenset({"Rain", "Snow"}), 0, ("dry", "wet")),
        Question("snow-today", "snow today", frozenset({"Snow"}), 0, ("no snow", "snow")),
        Question(
            "wet-tomorrow", "rain or snow tomorrow", frozenset({"Rain", "Snow"}), 1, ("dry", "wet")
        ),
        Question("snow-tomorrow", "snow tomorrow", frozenset({"Snow"}), 1, ("no snow", "snow")),
    )
}


def question(name: str) -> Question:
    """A question by name; an unknown one is a `ValueError` listing those there are."""
    if name not in QUESTIONS:
        raise ValueError(f"unknown weather question {name!r}: choose {', '.join(QUESTIONS)}")
    return QUESTIONS[name]


@dataclass(frozen=True, eq=False)
class WeatherTable:
    """The table's rows, ordered by city then date: measurements, precipitation and events."""

    path: str
    checksum: str
    city: np.ndarray  # (n,) str
    date: np.ndarray  # (n,) datetime64[D]
    values: np.ndarray  # (n, len(MEASUREMENTS)) float32, in the table's units
    precip: np.ndarray  # (n,) float32 inches, a trace as TRACE
    events: tuple[frozenset[str], ...]

    @property
    def year(self) -> np.ndarray:
        return self.date.astype("datetime64[Y]").astype(int) + 1970

    def has(self, events: frozenset[str]) -> np.ndarray:
        """Whether each day's events include any of `events`."""
        return np.array([bool(e & events) for e in self.events])

    def channels(self) -> np.ndarray:
        """(n, len(CHANNELS)) float32: measurements, precipitation, rain and snow flags."""
        return np.column_stack(
            [self.values, self.precip, self.has(frozenset({"Rain"})), self.has(frozenset({"Snow"}))]
        ).astype(np.float32)


def _number(text: str, column: str, line: int) -> float:
    if column == "precip" and text.strip() == "T":
        return TRACE
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"weather table line {line}: {column} is {text!r}, not a number") from None
    if not np.isfinite(value):
        raise DataError(f"weather table line {line}: {column} is {text!r}, not a number")
    return value


@lru_cache(maxsize=2)
def read_table(path: str | Path = WEATHER_PATH) -> WeatherTable:
    """The weather table at `path`, checked: each city's days consecutive, every value a number."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(
            f"weather table not found or unreadable: {path} ({error.strerror}). "
            "Restore it with `git checkout -- data/weather.csv`."
        ) from None
    rows = list(csv.DictReader(raw.decode("utf-8", errors="replace").splitlines()))
    needed = ("city", "date", *MEASUREMENTS, "precip", "events")
    missing = [c for c in needed if rows and c not in rows[0]]
    if not rows or missing:
        raise DataError(f"{path} is not the weather table: it lacks {', '.join(missing) or 'rows'}")
    rows.sort(key=lambda r: (r["city"], r["date"]))
    try:
        date = np.array([r["date"] for r in rows], dtype="datetime64[D]")
    except ValueError as error:
        raise DataError(f"{path}: a date is not YYYY-MM-DD ({error})") from None
    city = np.array([r["city"] for r in rows])
    same_city = city[1:] == city[:-1]
    gaps = same_city & (np.diff(date).astype(int) != 1)
    if gaps.any():
        at = int(np.flatnonzero(gaps)[0]) + 1
        raise DataError(f"{path}: {city[at]} skips or repeats a day before {date[at]}")
    values = np.array(
        [[_number(r[c], c, i + 2) for c in MEASUREMENTS] for i, r in enumerate(rows)], np.float32
    ).reshape(len(rows), len(MEASUREMENTS))
    precip = np.array(
        [_number(r["precip"], "precip", i + 2) for i, r in enumerate(rows)], np.float32
    )
    events = tuple(
        frozenset(e.strip() for e in (r["events"] or "").split(",") if e.strip()) for r in rows
    )
    checksum = hashlib.sha256(raw).hexdigest()
    return WeatherTable(str(path), checksum, city, date, values, precip, events)


def standardisation(table: WeatherTable) -> tuple[np.ndarray, np.ndarray]:
    """One mean and spread per channel over every city's training-year days.

    The rain and snow flags stay 0/1 (mean 0, spread 1), so that zero means "no event".
    """
    channels = table.channels()[table.year == TRAIN_YEAR]
    mean, spread = channels.mean(axis=0), channels.std(axis=0)
    flags = [CHANNELS.index("rain"), CHANNELS.index("snow")]
    mean[flags], spread[flags] = 0.0, 1.0
    return mean, np.where(spread > 0, spread, 1.0).astype(np.float32)


@dataclass(frozen=True, eq=False)
class WeatherWindows:
    """The pool (training year) and test (test year) windows for one question."""

    question: Question
    days: int
    table: WeatherTable
    pool_end: np.ndarray  # (n_pool,) table row of each window's last day
    test_end: np.ndarray
    x_pool: np.ndarray  # (n_pool, days, len(CHANNELS)) float32, standardised
    x_test: np.ndarray
    y_pool: np.ndarray  # (n_pool,) 1 where the question's events happen on the answer's day
    y_test: np.ndarray

    def name(self, row: int) -> str:
        """A window by its city and last day: 'Chicago 2016-12-18'."""
        return f"{self.table.city[row]} {self.table.date[row]}"

    def pool_name(self, index: int) -> str:
        return self.name(int(self.pool_end[index]))

    def test_name(self, index: int) -> str:
        return self.name(int(self.test_end[index]))


def window_ends(table: WeatherTable, days: int, ahead: int, year: int) -> np.ndarray:
    """Rows that end a window of `days` days of one city whose days and answer all lie in `year`."""
    n = len(table.city)
    rows = np.arange(days - 1, n - ahead)
    first, answer = rows - (days - 1), rows + ahead
    inside = (
        (table.city[first] == table.city[rows])
        & (table.city[answer] == table.city[rows])
        & (table.year[first] == year)
        & (table.year[answer] == year)
    )
    return rows[inside]


def make_windows(
    name: str | Question = "wet-today", days: int = DEFAULT_DAYS, path: str | Path = WEATHER_PATH
) -> WeatherWindows:
    """Every window of `days` days for the question `name`, split in time (see the module)."""
    asked = name if isinstance(name, Question) else question(name)
    if not 2 <= int(days) <= 90:
        raise ValueError(f"a weather window is 2 to 90 days long, not {days}")
    table = read_table(str(path))
    mean, spread = standardisation(table)
    scaled = (table.channels() - mean) / spread
    positive = table.has(asked.events).astype(np.intp)
    hidden = [CHANNELS.index(c) for c in PRECIPITATION]

    def windows(ends: np.ndarray) -> np.ndarray:
        x = scaled[ends[:, None] + np.arange(-(days - 1), 1)[None, :]].astype(np.float32)
        if asked.ahead == 0:
            x[:, -1, hidden] = 0.0  # the day's own precipitation and events are its answer
        return x

    pool_end = window_ends(table, days, asked.ahead, TRAIN_YEAR)
    test_end = window_ends(table, days, asked.ahead, TEST_YEAR)
    return WeatherWindows(
        asked,
        int(days),
        table,
        pool_end,
        test_end,
        windows(pool_end),
        windows(test_end),
        positive[pool_end + asked.ahead],
        positive[test_end + asked.ahead],
    )


def blocked_folds(windows: WeatherWindows, n_folds: int = 5, block_days: int = 14) -> np.ndarray:
    """The fold of each pool window: blocks of `block_days` consecutive days, dealt in turn.

    A window belongs to the block of its last day. Dealing short blocks round the folds puts
    some of every season, and so snow days, in each fold; `purged` keeps a fold's windows from
    training on days that fold validates on.
    """
    day_of_year = (
        windows.table.date[windows.pool_end]
        - windows.table.date[windows.pool_end].astype("datetime64[Y]")
    ).astype(int)
    return (day_of_year // block_days) % n_folds


def purged(windows: WeatherWindows, folds: np.ndarray, fold: int) -> np.ndarray:
    """The pool windows that may train for `fold`: not in it, and sharing no day with one in it."""
    table, ends = windows.table, windows.pool_end
    held = np.zeros(len(table.city), bool)
    for end in ends[folds == fold]:
        held[end - windows.days + 1 : end + windows.question.ahead + 1] = True
    span = ends[:, None] + np.arange(-(windows.days - 1), windows.question.ahead + 1)[None, :]
    return (folds != fold) & ~held[span].any(axis=1)
