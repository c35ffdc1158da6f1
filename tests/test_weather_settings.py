"""A weather session's settings, answers and words, without the page.

The settings hold the question and refuse what cannot be a weather session; the answers take
their keys from their words (Skip moves off S where an answer needs it); the kind says "window"
where a shared sentence says "image".
"""

from __future__ import annotations

import pytest

from tl_active.core.task import BINARY, MULTICLASS, ODD, Task
from tl_active.data.kinds import MnistKind, WeatherKind
from tl_active.data.weather import make_windows
from tl_active.sessions.records import WEATHER_TASK, SessionSettings
from ui.labelling.answers import answer_options

WEATHER = {"task": WEATHER_TASK, "backbone": "weather-cnn", "layer": "dense"}


def test_weather_settings_hold_their_question_through_a_round_trip():
    settings = SessionSettings(weather="snow-tomorrow", **WEATHER)
    data = settings.as_dict()
    assert data["weather"] == "snow-tomorrow" and data["task"] == {"kind": BINARY, "classes": [1]}
    assert SessionSettings.from_dict(data) == settings
    assert settings.summary() == (
        "snow tomorrow, diversity, batch 4, converge, seed 0 (weather-cnn/dense) on weather windows"
    )
    # An MNIST session's settings are written as they always were, without the key.
    assert "weather" not in SessionSettings().as_dict()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"weather": "hail-today"},
            "unknown weather question 'hail-today'; choose one of wet-today",
        ),
        ({"weather": "snow-today", "images": "/data/x"}, "on weather windows or on images"),
        ({"weather": "snow-today", "task": Task(BINARY, tuple(sorted(ODD)))}, "class 1"),
        ({"weather": "snow-today", "task": Task(MULTICLASS, (0, 1))}, "binary"),
    ],
)
def test_settings_that_cannot_be_a_weather_session_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SessionSettings(**{**WEATHER, **changes})


def test_a_stored_weather_question_is_read_as_text_only():
    data = SessionSettings(weather="snow-today", **WEATHER).as_dict()
    with pytest.raises(ValueError, match="weather must be text"):
        SessionSettings.from_dict({**data, "weather": 3})


def test_weather_answers_keep_their_own_letters_and_skip_moves_to_k():
    snow = WeatherKind(make_windows("snow-today"))
    options = answer_options(WEATHER_TASK, snow)
    assert [(o.value, o.label, o.key) for o in options] == [
        ("positive", "Snow", "s"),
        ("negative", "No snow", "n"),
        ("skip", "Skip", "k"),
    ]
    wet = WeatherKind(make_windows("wet-today"))
    assert [(o.label, o.key) for o in answer_options(WEATHER_TASK, wet)] == [
        ("Wet", "w"),
        ("Dry", "d"),
        ("Skip", "s"),
    ]


def test_classes_named_with_s_keep_their_letters_too():
    kind = WeatherKind(make_windows("snow-today"))  # any kind: keys come from the names
    options = answer_options(Task(MULTICLASS, (0, 1, 2)), kind, ("sheep", "kite", "cow"))
    # S and K are answers': Skip takes the next letter of its name no answer has.
    assert [o.key for o in options] == ["s", "k", "c", "i"]
    # MNIST's questions are as they were.
    odd = answer_options(Task(BINARY, tuple(sorted(ODD))), MnistKind())
    assert [(o.label, o.key) for o in odd] == [("Odd", "o"), ("Even", "e"), ("Skip", "s")]
    custom = answer_options(Task.binary("2,3,5,7"), MnistKind())
    assert [o.key for o in custom] == ["p", "n", "s"]


def test_a_kind_says_shared_sentences_in_its_own_words():
    kind = WeatherKind(make_windows("snow-today"))
    assert (kind.item, kind.items) == ("window", "windows")
    assert kind.in_own_words("Image to change: the image farthest from 3 images") == (
        "Window to change: the window farthest from 3 windows"
    )
    assert kind.in_own_words("imagery stays") == "imagery stays"
    assert MnistKind().in_own_words("the image farthest") == "the image farthest"
    assert kind.tile_title(0) == kind.short_name(0) == "Auckland 2016-01-14"
    assert "temperature" in kind.tile_legend and MnistKind().tile_legend == ""
