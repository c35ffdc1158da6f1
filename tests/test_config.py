"""The served app's settings that a room relies on (`.streamlit/config.toml`)."""

import tomllib
from pathlib import Path

from tl_active.sessions.exchange import MAX_MANIFEST_BYTES

CONFIG = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"


def test_the_browser_gets_no_error_details_and_uploads_stop_at_the_manifest_limit():
    config = tomllib.loads(CONFIG.read_text())
    assert config["client"]["showErrorDetails"] == "none"  # tracebacks stay in the console
    # Streamlit counts the limit in MiB, the manifest reader in bytes: a file the upload lets
    # through up to 50 MiB that is over 50 MB is refused by the reader, with its own message.
    assert config["server"]["maxUploadSize"] == MAX_MANIFEST_BYTES // 1_000_000 == 50
    assert config["server"]["fileWatcherType"] == "none"
