"""The labelling grid's Python side: what it hands the page and what it accepts back.

No browser and no AppTest: `tests/test_grid_browser.py` drives the page itself.
"""

from __future__ import annotations

import base64
import colorsys
import io

import pytest
from PIL import Image

from ui.components.labelling_grid import (
    DEFAULT_COLOURS,
    SKIP,
    grid_props,
    png_data_uri,
    read_submission,
    text_colour,
)


def png(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (28, 28), shade).save(buffer, format="PNG")
    return buffer.getvalue()


TILES = [{"src": png_data_uri(png(s)), "alt": f"image {s}", "caption": "p 0.5"} for s in (0, 99)]
ODD_EVEN = [
    {"value": "positive", "label": "Odd", "key": "O", "colour": "#0072b2"},
    {"value": "negative", "label": "Even", "key": "e", "colour": "#E69F00"},
]


def props(**changes):
    arguments = {"key": "batch", "round_number": 3, "tiles": TILES, "options": ODD_EVEN}
    return grid_props(**(arguments | changes))


def test_props_carry_the_options_with_skip_last_and_no_answers_yet():
    made = props()
    assert [(o["value"], o["label"], o["key"]) for o in made["options"]] == [
        ("positive", "Odd", "o"),  # keys are matched in lower case
        ("negative", "Even", "e"),
        (SKIP, "Skip", "s"),
    ]
    assert [o["colour"] for o in made["options"][:2]] == ["#0072B2", "#E69F00"]
    assert [o["text"] for o in made["options"]] == ["#FFFFFF", "#111111", "#FFFFFF"]
    assert made["answers"] == [None, None]
    assert made["round"] == 3 and made["key"] == "batch"
    assert made["tiles"] == TILES
    assert made["submitLabel"] == "Submit batch ({answered}/{size})"


def test_the_batch_id_follows_the_round_and_the_images_but_not_the_captions():
    batch = props()["batch"]
    recaptioned = [tile | {"caption": "p 0.9"} for tile in TILES]
    assert props(tiles=recaptioned)["batch"] == batch
    assert props(answers=["positive", None])["batch"] == batch
    assert props(round_number=4)["batch"] != batch
    assert props(tiles=[TILES[1], TILES[0]])["batch"] != batch


def test_options_without_a_colour_get_neutral_ones_in_turn():
    digits = [{"value": str(d), "label": f"Digit {d}", "key": str(d)} for d in range(5)]
    made = props(options=digits)
    assert [o["colour"] for o in made["options"][:5]] == list(DEFAULT_COLOURS[:5])
    assert [o["key"] for o in made["options"]] == ["0", "1", "2", "3", "4", "s"]


def test_default_colours_are_neither_green_nor_red_and_all_differ():
    assert len(set(DEFAULT_COLOURS)) == len(DEFAULT_COLOURS) == 10
    for colour in DEFAULT_COLOURS:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        hue, saturation, _ = colorsys.rgb_to_hsv(r, g, b)
        degrees = hue * 360
        reddish = degrees < 20 or degrees > 340
        greenish = 75 < degrees < 165
        assert saturation < 0.25 or not (reddish or greenish), colour


def test_text_colour_reads_on_its_background():
    assert text_colour("#0072B2") == "#FFFFFF"
    assert text_colour("#F0E442") == "#111111"
    assert text_colour("#000000") == "#FFFFFF"
    assert text_colour("#FFFFFF") == "#111111"


def test_answers_given_for_the_batch_are_kept():
    assert props(answers=["negative", SKIP])["answers"] == ["negative", SKIP]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tiles": []}, "at least one tile"),
        ({"tiles": [{"src": "https://example.org/a.png"}]}, "data:image/"),
        ({"options": []}, "at least one answer option"),
        ({"options": [{"value": "skip", "label": "Pass", "key": "p"}]}, "always offered"),
        ({"options": [{"value": "x", "label": "X", "key": "s"}]}, "other than 's'"),
        ({"options": [{"value": "x", "label": "X", "key": "u"}]}, "other than 's'"),
        ({"options": [{"value": "x", "label": "X", "key": "ok"}]}, "one letter or digit"),
        ({"options": [{"value": "x", "label": "X", "key": "!"}]}, "one letter or digit"),
        ({"options": [*ODD_EVEN, {"value": "z", "label": "Z", "key": "E"}]}, "share a key"),
        (
            {"options": [*ODD_EVEN, {"value": "negative", "label": "N", "key": "n"}]},
            "share a value",
        ),
        ({"options": [{"value": "x", "label": "X", "key": "x", "colour": "red"}]}, "#rrggbb"),
        ({"answers": ["positive"]}, "1 answers for 2 tiles"),
        ({"answers": ["maybe", None]}, "none of the options"),
        ({"submit_label_format": "Send {count}"}, "{answered} and {size}"),
    ],
)
def test_a_grid_that_cannot_work_is_refused_with_a_reason(changes, message):
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        props(**changes)


def test_a_submission_is_read_back_as_round_and_answers():
    made = props()
    value = {"round": 3, "answers": ["positive", SKIP]}
    assert read_submission(value, made) == value
    # A stale page's round is passed on as sent: the session's protocol refuses it by name.
    assert read_submission({"round": 2, "answers": ["negative", "negative"]}, made) == {
        "round": 2,
        "answers": ["negative", "negative"],
    }


@pytest.mark.parametrize(
    "value",
    [
        None,
        "positive",
        {"answers": ["positive", "negative"]},
        {"round": True, "answers": ["positive", "negative"]},
        {"round": "3", "answers": ["positive", "negative"]},
        {"round": 3, "answers": ["positive"]},
        {"round": 3, "answers": ["positive", None]},
        {"round": 3, "answers": ["positive", "maybe"]},
    ],
)
def test_a_malformed_submission_is_ignored(value):
    assert read_submission(value, props()) is None


def test_png_data_uri_carries_the_image():
    data = png(7)
    uri = png_data_uri(data)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.removeprefix("data:image/png;base64,")) == data
