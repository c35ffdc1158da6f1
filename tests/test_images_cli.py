"""`python -m tl_active features --images DIR` and `compare --images DIR` on folders the tests make."""

from __future__ import annotations

import pandas as pd
import pytest
from image_folders import write_class_folder, write_flat_folder

from tl_active.cli.main import main
from tl_active.core.task import classes_by_name


def test_classes_are_named_as_the_folders_are():
    assert classes_by_name("dog, cat", ("cat", "dog", "fox")) == (0, 1)
    with pytest.raises(ValueError, match="'wolf' is not among the classes"):
        classes_by_name("cat,wolf", ("cat", "dog", "fox"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli") / "digits"
    write_class_folder(root, {"one": (1, 40), "seven": (7, 40), "zero": (0, 40)})
    (root / "seven" / "notes.txt").write_text("not an image")
    return root


@pytest.mark.model
def test_features_of_a_folder_say_what_was_read_skipped_and_split(folder, tmp_path, capsys):
    assert main(["--cache", str(tmp_path), "features", "--images", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "120 images in 3 classes (one 40, seven 40, zero 40)" in err
    assert "1 file skipped: 1 not an image (seven/notes.txt)" in err
    assert "frozen backbone" in err  # the progress bar
    assert "pool (96, 10), test (24, 10)" in out
    assert "converted to grayscale, resized to 28 x 28" in out
    assert "held-out test split: 24 images" in out and "split.csv" in out
    accuracy = float(out.split("answers ")[1].split("%")[0])
    assert accuracy > 90


@pytest.mark.model
def test_the_environment_names_the_folder_and_a_flat_one_has_no_test(tmp_path, capsys, monkeypatch):
    flat = write_flat_folder(tmp_path / "flat", {4: 6, 9: 6})
    monkeypatch.setenv("TL_ACTIVE_IMAGES", str(flat))
    assert main(["--cache", str(tmp_path / "c"), "features"]) == 0
    out, err = capsys.readouterr()
    assert "12 images, no classes" in err
    assert "pool (12, 10), test (0, 10)" in out
    assert "no ground truth: no test set" in out


@pytest.mark.model
def test_compare_on_a_folder_picks_classes_by_name(folder, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code = main(
        [
            "--cache",
            str(tmp_path),
            "compare",
            "--images",
            str(folder),
            "--classes",
            "zero,one",
            "--strategies",
            "diversity,random",
            "--seeds",
            "2",
            "--rounds",
            "4",
            "--batch",
            "2",
            "--budgets",
            "4,8",
            "--jobs",
            "1",
            "--out",
            str(out_dir),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "mnist-cnn / digits, classes one,zero" in out
    curves = pd.read_csv(out_dir / "curves.csv")
    assert sorted(curves.strategy.unique()) == ["diversity", "random"]
    assert curves.n_labels.max() == 8
    # Ones and zeros on the shipped CNN: a few labels answer nearly every test image right.
    last = curves[curves.n_labels == 8]
    assert last.accuracy.min() > 0.9
    summary = pd.read_csv(out_dir / "summary.csv")
    assert list(summary.columns) == [
        "strategy",
        "labels_to_99pct_of_ceiling",
        "labels_at_stop",
        "accuracy_at_stop",
        "auc",
        "accuracy_at_4",
        "accuracy_at_8",
    ]


@pytest.mark.model
def test_compare_refuses_a_flat_folder_and_an_unknown_class(folder, tmp_path, capsys):
    code = main(
        ["--cache", str(tmp_path), "compare", "--images", str(folder), "--classes", "one,wolf"]
    )
    assert code == 2
    assert "'wolf' is not among the classes" in capsys.readouterr().err
    flat = write_flat_folder(tmp_path / "flat", {4: 3, 9: 3})
    assert main(["--cache", str(tmp_path), "compare", "--images", str(flat)]) == 2
    assert "no class folders, so there is no ground truth" in capsys.readouterr().err
