"""The labelling page's "Fine-tune on my labels", end to end in AppTest on the real 5-9 network.

Disabled with its reason until the session has enough labels; then one click fine-tunes the
backbone's last two layers on 40 labels of 0-4, computes the features of the new network over
the whole of MNIST, and opens the new session that continues the old one, with its learning
curve beside the old one's. The fine-tuned network and its features go to temporary folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from small_mnist import accept_small_mnist, write_small_mnist
from streamlit.testing.v1 import AppTest

from tl_active import paths
from tl_active.core.task import Task
from tl_active.data.kinds import mnist as mnist_kind
from ui import keys
from ui import support as ui_support

pytestmark = [pytest.mark.usefixtures("app_db"), pytest.mark.model]

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def settle(changed) -> AppTest:
    at = changed.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.model
def test_the_button_fine_tunes_and_continues_the_session(tmp_path, monkeypatch):
    # The app on a slice of MNIST, its features (the 5-9 network's and the fine-tuned one's)
    # computed into a temporary cache.
    small = write_small_mnist(tmp_path / "mnist-small.npz")
    accept_small_mnist(monkeypatch)
    for module in (paths, ui_support):
        monkeypatch.setattr(module, "MNIST_PATH", small)
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(paths, "FINE_TUNED_DIR", tmp_path / "fine-tuned")
    real = ui_support.load_features
    monkeypatch.setattr(
        ui_support,
        "load_features",
        lambda backbone, layer, data_path, progress=None: real(
            backbone, layer, data_path, tmp_path / "cache", progress
        ),
    )
    monkeypatch.setenv("TL_ACTIVE_BACKBONE", "mnist-cnn-5to9")
    ui_support.shared_features.clear()
    mnist_kind.pool_images.cache_clear()
    at = AppTest.from_file(APP, default_timeout=240).run()
    assert not at.exception, [e.value for e in at.exception]
    settle(at.radio(key=keys.SET_KIND).set_value("classes"))
    settle(at.slider(key=keys.SET_BATCH).set_value(8))
    settle(at.button(key="new_session").click())
    old = at.session_state[keys.SESSION]
    assert (old.settings.layer, old.task) == ("embedding", Task.multiclass("0-4"))
    button = at.button(key=keys.FT_RUN)
    assert button.disabled
    # The 5-9 network has seven layers with weights up to its embedding: 1 to 4 are offered.
    layers = at.selectbox(key=keys.FT_LAYERS)
    assert (layers.options, layers.value) == (["1", "2", "3", "4"], 2)
    assert any("at least 20 labels" in c.value for c in at.sidebar.caption)

    settle(at.number_input(key=keys.AUTO_ROUNDS).set_value(5))
    settle(at.button(key="auto_label").click())
    old_id = at.session_state[keys.SESSION_ID]
    assert len(old.labelled) == 40 and old_id
    assert not at.button(key=keys.FT_RUN).disabled
    settle(at.button(key=keys.FT_RUN).click())

    new = at.session_state[keys.SESSION]
    new_id = at.session_state[keys.SESSION_ID]
    assert new is not old and new_id != old_id
    assert new.settings.continued_from == old_id
    tuned = Path(new.settings.backbone)
    assert tuned.parent == tmp_path / "fine-tuned" and tuned.suffix == ".keras"
    assert list((tmp_path / "cache").glob("features-*.npz"))
    assert [r.indices for r in new.rounds] == [r.indices for r in old.rounds]
    assert new.metrics().accuracy >= old.metrics().accuracy
    assert at.query_params[keys.URL_PARAM] == new_id
    # The toast says what was trained and both accuracies; the curve before and after is drawn.
    toasts = [t.value.replace("\\", "") for t in at.toast]  # shown escaped
    assert any("Fine-tuned conv23, embedding on 32 labels" in t for t in toasts), toasts
    assert any(f"{old.metrics().accuracy:.1%}" in t for t in toasts)
    # ... and the sidebar keeps saying it, in full, under the button; the Cancel is gone.
    kept = [s.value.replace("\\", "") for s in at.sidebar.success]
    assert any("Fine-tuned conv23, embedding on 32 labels" in s for s in kept), kept
    assert not [b for b in at.button if b.key == keys.FT_CANCEL]
    assert any("Before and after fine-tuning" in m.value for m in at.main.markdown)
    # The old session stays stored as it was.
    from tl_active.sessions.store import SessionStore

    stored = SessionStore(paths.DB_URL).session_dict(old_id)
    assert len(stored["rounds"]) == 5 and stored["settings"]["backbone"] == "mnist-cnn-5to9"
    ui_support.shared_features.clear()
    mnist_kind.pool_images.cache_clear()
