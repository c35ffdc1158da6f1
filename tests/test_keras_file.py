"""How many layers with weights a `.keras` file has up to a layer, read from the file itself
without loading Keras: what the Label page offers to fine-tune."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tl_active.data.keras_file import weighted_layers_up_to

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_the_shipped_networks_layers_with_weights_up_to_the_heads_layer():
    assert weighted_layers_up_to(MODELS / "weather_cnn.keras", "dense") == ("conv", "dense")
    assert weighted_layers_up_to(MODELS / "weather_cnn_4d.keras", "dense") == ("conv", "dense")
    convs = ("conv11", "conv12", "conv13", "conv21", "conv22", "conv23")
    assert weighted_layers_up_to(MODELS / "shared_cnn.keras", "embedding") == (*convs, "embedding")
    assert weighted_layers_up_to(MODELS / "shared_cnn.keras", "global_maxpool") == convs
    assert weighted_layers_up_to(MODELS / "mnist_cnn_5to9.keras", "digits") == (
        *convs,
        "embedding",
        "digits",
    )


def test_a_file_that_cannot_say_gives_none(tmp_path):
    assert weighted_layers_up_to(MODELS / "weather_cnn.keras", "no-such-layer") is None
    assert weighted_layers_up_to(tmp_path / "missing.keras", "dense") is None
    not_a_zip = tmp_path / "text.keras"
    not_a_zip.write_text("not a network")
    assert weighted_layers_up_to(not_a_zip, "dense") is None
    no_weights = tmp_path / "config-only.keras"
    with zipfile.ZipFile(MODELS / "weather_cnn.keras") as source:
        config = source.read("config.json")
    with zipfile.ZipFile(no_weights, "w") as archive:
        archive.writestr("config.json", config)
    assert weighted_layers_up_to(no_weights, "dense") is None


def test_a_file_replaced_in_place_is_read_again(tmp_path):
    network = tmp_path / "network.keras"
    shutil.copy(MODELS / "weather_cnn.keras", network)
    assert weighted_layers_up_to(network, "dense") == ("conv", "dense")
    shutil.copy(MODELS / "shared_cnn.keras", network)
    os.utime(network, ns=(1, 1))  # another version, whatever the clock's resolution
    assert weighted_layers_up_to(network, "embedding")[-1] == "embedding"


def test_reading_the_count_does_not_load_keras():
    code = (
        "import sys; from tl_active.data.keras_file import weighted_layers_up_to as w; "
        f"assert w({str(MODELS / 'weather_cnn.keras')!r}, 'dense') == ('conv', 'dense'); "
        "print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
