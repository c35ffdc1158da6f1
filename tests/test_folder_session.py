"""Sessions on an image folder: the folder and its checksum recorded; without class folders, the
person's own answers and figures cross-validated on the labels given (no test set)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.task import MULTICLASS, SKIP, Task
from tl_active.data.images import ImageSource
from tl_active.errors import ProtocolError
from tl_active.sessions.exchange import (
    FOLDER_LABEL_COLUMNS,
    labels_csv,
    predictions_csv,
    read_manifest,
)
from tl_active.sessions.figures import cross_validated_metrics
from tl_active.sessions.records import SessionSettings, parse_answer_names
from tl_active.sessions.session import LabellingSession

BASE = synthetic_features(400, 100, layer="embedding")


def flat_features():
    """The synthetic pool as a flat folder: paths, no classes, no test set."""
    n = BASE.pool_size
    source = ImageSource(
        root="/data/mine",
        checksum="c" * 64,
        pool_paths=tuple(f"img{i:04d}.png" for i in range(n)),
        test_paths=(),
        has_truth=False,
        preprocessing="as stated",
    )
    return replace(
        BASE,
        test=BASE.test[:0],
        y_pool=np.full(n, -1, np.intp),
        y_test=np.zeros(0, np.intp),
        class_names=(),
        source=source,
    ), BASE.y_pool


def flat_settings(answers="even, odd"):
    names = parse_answer_names(answers)
    return SessionSettings(
        task=Task(MULTICLASS, tuple(range(len(names)))),
        layer="embedding",
        images="/data/mine",
        images_checksum="c" * 64,
        answers=names,
    )


def answer_as_a_person(session, digits):
    names = session.answer_values
    for _ in range(6):
        picks = session.next_batch()
        session.submit([names[int(digits[p.index]) % 2] for p in picks])


def test_a_flat_folder_needs_named_answers_and_refuses_bad_ones():
    features, _ = flat_features()
    with pytest.raises(ValueError, match="name the answers you will give"):
        LabellingSession(features, SessionSettings(task=Task.multiclass("0-3"), layer="embedding"))
    for bad in ("cat", "cat,cat", "cat,skip", "a," + "x" * 41):
        with pytest.raises(ValueError):
            parse_answer_names(bad)
    with pytest.raises(ValueError, match="one class per answer"):
        SessionSettings(task=Task.multiclass("0-2"), layer="embedding", answers=("a", "b"))


def test_a_flat_folder_session_labels_with_the_persons_answers_and_cross_validates(tmp_path):
    features, digits = flat_features()
    session = LabellingSession(features, flat_settings())
    assert session.answer_values == ("even", "odd")
    assert not session.has_test and session.data.size == 400
    answer_as_a_person(session, digits)
    record = session.rounds[-1]
    assert record.n_labels == 24
    # The figures are the head's on labels it never saw, fold by fold: recomputed by hand.
    positions = session.data.local(session.labelled)
    expected = cross_validated_metrics(
        features.pool[positions], session.labels, 2, fit_intercept=True, seed=0
    )
    assert record.metrics == pytest.approx(expected.as_dict())
    assert 0 < record.metrics["accuracy"] <= 1.0
    assert len(record.mean_p_by_class) == 2
    assert session.disagreements() == []
    with pytest.raises(ProtocolError, match="no truth"):
        session.answer_by_truth()
    # Saved and read back, with the folder and its checksum.
    raw = json.dumps(session.to_dict())
    assert json.loads(raw)["settings"]["images_checksum"] == "c" * 64
    again = read_manifest(raw.encode(), features)
    assert again.settings == session.settings
    assert np.allclose(again.head.coef_, session.head.coef_)


def test_cross_validation_scores_each_label_by_a_head_that_never_saw_it():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 20)
    x = (rng.normal(0, 0.3, (40, 5)) + np.where(labels[:, None] == 1, 2.0, -2.0)).astype(np.float32)
    assert cross_validated_metrics(x, labels, 2, True).accuracy == 1.0
    # Labels that say nothing about the features: a head cannot predict held-out ones.
    noise = cross_validated_metrics(x, rng.permutation(labels), 2, True)
    assert noise.accuracy < 0.75


def test_cross_validation_with_too_few_labels_is_said_plainly():
    x = np.eye(3, dtype=np.float32)
    assert cross_validated_metrics(x[:0], np.zeros(0, np.intp), 2, True).accuracy == 0.0
    one = cross_validated_metrics(x[:1], np.array([1]), 2, True)
    assert one.accuracy == 0.0  # an untrained head calls nothing positive


def test_mnist_settings_are_written_as_before():
    assert "images" not in SessionSettings().as_dict()
    assert SessionSettings.from_dict(SessionSettings().as_dict()) == SessionSettings()
    settings = SessionSettings(images="/x", images_checksum="a" * 64)
    assert SessionSettings.from_dict(settings.as_dict()) == settings
    assert "on /x" in settings.summary()


def test_a_folder_sessions_summary_names_its_classes_or_counts_them_never_by_digit():
    from tl_active.core.task import Task

    settings = SessionSettings(
        task=Task.multiclass([0, 1]), images="/pets", images_checksum="a" * 64
    )
    # Without the folder's names (a recent list read from the store) the classes are counted.
    assert settings.summary().startswith("2 classes, diversity, batch 4")
    assert "0,1" not in settings.summary()
    assert settings.summary(("cat", "dog")).startswith("cat,dog, diversity")


def class_folder_features():
    """The synthetic set as a folder of class folders: each image a path, a test split."""
    source = ImageSource(
        root="/data/digits",
        checksum="d" * 64,
        pool_paths=tuple(f"{d}/p{i:04d}.png" for i, d in enumerate(BASE.y_pool)),
        test_paths=tuple(f"{d}/t{i:04d}.png" for i, d in enumerate(BASE.y_test)),
        has_truth=True,
        preprocessing="as stated",
    )
    return replace(BASE, source=source)


def test_the_labels_csv_names_images_by_path_with_who_and_p():
    import csv
    import io

    features = class_folder_features()
    session = LabellingSession(
        features, SessionSettings(task=Task.multiclass("0-2"), layer="embedding", batch_size=3)
    )
    picks = session.next_batch()
    answers = [session.answer_values[0], SKIP, session.answer_values[2]]
    session.submit(answers)
    session.auto_label(1)
    rows = list(csv.DictReader(io.StringIO(labels_csv(session))))
    assert list(rows[0]) == list(FOLDER_LABEL_COLUMNS)
    assert [r["path"] for r in rows[:3]] == [features.source.pool_paths[p.index] for p in picks]
    assert [r["who"] for r in rows] == ["person"] * 3 + ["auto"] * 3
    assert rows[1]["answer"] == "skip" and rows[1]["p"] == "" and rows[1]["agrees"] == ""
    local = session.data.local([picks[0].index])[0]
    assert float(rows[0]["p"]) == pytest.approx(session.proba_pool[local, 0], abs=1e-6)
    assert rows[0]["true_class"] == rows[0]["path"].split("/")[0]
    assert rows[0]["agrees"] == str(rows[0]["path"].startswith("0/"))
    assert all(r["agrees"] == "True" for r in rows[3:])  # the truth agrees with itself


def test_predict_the_rest_lists_every_image_nobody_labelled():
    import csv
    import io

    features, digits = flat_features()
    session = LabellingSession(features, flat_settings())
    answer_as_a_person(session, digits)
    rows = list(csv.DictReader(io.StringIO(predictions_csv(session))))
    assert len(rows) == 400 - 24 and {r["part"] for r in rows} == {"pool"}
    labelled_paths = {features.source.pool_paths[i] for i in session.labelled}
    assert not labelled_paths & {r["path"] for r in rows}
    first = int(rows[0]["path"][3:7])
    proba = session.proba_pool[first]
    assert rows[0]["predicted"] == session.answer_values[int(proba.argmax())]
    assert float(rows[0]["p"]) == pytest.approx(proba.max(), abs=1e-6)
    # With class folders the held-out test images are predicted too.
    folder = class_folder_features()
    session = LabellingSession(
        folder, SessionSettings(task=Task.multiclass("0-2"), layer="embedding")
    )
    rows = list(csv.DictReader(io.StringIO(predictions_csv(session))))
    n_test = int(np.isin(BASE.y_test, [0, 1, 2]).sum())
    assert sum(r["part"] == "test" for r in rows) == n_test
    assert all(r["path"].split("/")[0] in "012" for r in rows)


def test_sessions_on_a_folder_stay_out_of_the_room():
    from tl_active.experiments.room import configuration_of

    assert configuration_of(flat_settings().as_dict()) is None
    assert configuration_of(SessionSettings().as_dict()) is not None
