"""The Label page's controller: the person's labelling session in the app, changed by callbacks.

Each user action is one callback, making one call on the `LabellingSession`; the session is kept
in the store and named by the URL. One module per concern:

- `state`: the tab's session, its id, the messages (`flash`) and the revision counter;
- `answers`: the answers a session offers, with their keys and colours;
- `widgets`: the sidebar's settings widgets, to and from `SessionSettings`, and an uploaded zip;
- `opening`: starting, opening, reloading and importing sessions, and the URL;
- `storing`: writing new rounds to the store;
- `rounds`: the batch on offer, its submit, auto-labelling, a region of the pool map;
- `corrections`: changing an answer, "Check my labels", undo;
- `fine_tune`: fine-tuning's Cancel and its outcome.

The names the page's sections use are gathered here, so that they import from one place.
"""

from __future__ import annotations

from ui.labelling.answers import (
    AnswerOption,
    answer_options,
    answer_word,
    rare_answer_name,
    session_options,
)
from ui.labelling.corrections import on_change_form, on_check, on_check_fix, on_correct, on_undo
from ui.labelling.fine_tune import fine_tuned, on_fine_tune_cancel
from ui.labelling.opening import (
    ensure_session,
    on_confirm,
    on_import,
    on_reopen,
    on_settings_submit,
    start_session,
    use_session,
)
from ui.labelling.rounds import (
    LARGE_REGION,
    clear_box,
    on_auto_label,
    on_bulk_label,
    on_grid_submit,
    open_batch,
)
from ui.labelling.state import current_id, current_session, flash, plural, show_flash
from ui.labelling.widgets import (
    IMAGES,
    WEATHER,
    keep_choices_valid,
    on_data_choice,
    on_layer_choice,
    on_zip_upload,
    settings_into_widgets,
    task_from_widgets,
)

__all__ = [
    "IMAGES",
    "WEATHER",
    "LARGE_REGION",
    "AnswerOption",
    "answer_options",
    "session_options",
    "answer_word",
    "rare_answer_name",
    "clear_box",
    "current_id",
    "current_session",
    "ensure_session",
    "fine_tuned",
    "flash",
    "keep_choices_valid",
    "on_auto_label",
    "on_bulk_label",
    "on_change_form",
    "on_check",
    "on_check_fix",
    "on_confirm",
    "on_correct",
    "on_data_choice",
    "on_fine_tune_cancel",
    "on_grid_submit",
    "on_import",
    "on_layer_choice",
    "on_reopen",
    "on_settings_submit",
    "on_undo",
    "on_zip_upload",
    "open_batch",
    "plural",
    "settings_into_widgets",
    "show_flash",
    "start_session",
    "task_from_widgets",
    "use_session",
]
