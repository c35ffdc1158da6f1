"""Every key the pages use in `st.session_state` and the URL, in one place.

A widget's key is its value's key in `st.session_state`, so the sidebar's settings are listed
here too: callbacks read them by these names, and tests set them by these names.
"""

from __future__ import annotations

# --- the person's labelling session -------------------------------------------------------------
SESSION = "session"  # the LabellingSession of this tab
SESSION_ID = "session_id"  # its id in the store, which the URL carries
URL_PARAM = "session"  # ?session=<id>
DRAFT = "draft"  # an undone round's answers, offered again on its batch
GRID = "batch_grid"  # the labelling grid (its answers in progress live in the browser)
FIX_IMAGE = "fix_image"  # the history's change form: which image
FIX_ANSWER = "fix_answer"  # ... and its new answer
FLASH = "flash"  # one message for the next run: (kind, text)
CONFIRM = "confirm_settings"  # settings waiting for "discard this session?" confirmation
SETTINGS_ERROR = "settings_error"  # why the settings in the sidebar cannot start a session
SHOW_CHECK = "show_check"  # whether "Check my labels" is open
REVISION = "revision"  # bumped by every change to the session: the charts must be redrawn
SPECS = "chart_specs"  # Vega-Lite specs of the current revision, by chart
HISTORY = "history_rows"  # the history's rows (thumbnails included) of the current revision
RECENT = "recent_sessions"  # the sidebar's recent sessions, read at the current revision
MAP_OPEN = "pool_map_open"  # the pool map's expander (drawn only while open)
MAP_SHOWN = "pool_map_shown"  # which map was drawn last: pca while UMAP computes, then umap
MAP_POINTS = "pool_map_points"  # the drawn sample of the pool and its names, per map
MAP_SPEC = "pool_map_spec"  # the map chart's spec of the current revision
MAP_BOX = "pool_map_box"  # the map chart's box selection (its key ends in the generation below)
MAP_BOX_GENERATION = "pool_map_box_generation"  # bumped to clear the box after a bulk round
MAP_REGION = "pool_map_region"  # the box dragged on the map: {method, x: [lo, hi], y: [lo, hi]}
BULK_ANSWER = "bulk_answer"  # the one answer for every image in the box
BULK_SURE = "bulk_sure"  # "yes, label all N" for a box of thousands

# --- the labelling page's sidebar (widget keys) -------------------------------------------------
SET_BACKBONE = "set_backbone"
SET_MODEL_PATH = "set_model_path"  # the path of a person's own .keras file
SET_LAYER = "set_layer"
SET_KIND = "set_kind"  # odd, even, custom (binary) or classes
SET_DIGITS = "set_digits"  # the positive digits of a custom binary target
SET_CLASSES = "set_classes"  # the classes of a multi-class task
SET_STRATEGY = "set_strategy"
SET_BATCH = "set_batch"
SET_HEAD = "set_head"
SET_SEED = "set_seed"
SET_DATA = "set_data"  # what is labelled: "images" (MNIST or a folder) or "weather" windows
SET_WEATHER = "set_weather"  # the question asked of weather windows ("snow-today")
SET_IMAGES = "set_images"  # an image folder's path ('' for MNIST)
SET_ZIP = "set_zip"  # an uploaded .zip of images
SET_FOLDER_CLASSES = "set_folder_classes"  # a folder's classes to tell apart, by name
SET_ANSWERS = "set_answers"  # a flat folder's answers, named by the person
FOLDER_NOTE = "folder_note"  # (an uploaded zip's folder, what unpacking it skipped)
AUTO_ROUNDS = "auto_rounds"
IMPORT_FILE = "import_file"
FT_LAYERS = "fine_tune_layers"  # how many of the backbone's last layers to fine-tune
FT_RUN = "fine_tune_run"  # the button that starts it
FT_CANCEL = "fine_tune_cancel"  # the button that stops it
FT_SHOWN = "fine_tune_shown"  # why the sidebar's fine-tune button is disabled ('' if it is not)
FT_OUTCOME = "fine_tune_outcome"  # (session id, kind, text): the last fine-tuning's outcome
FT_PARENT = (
    "fine_tune_parent"  # (parent id, (its stored rounds, its settings)) of a continued session
)

# --- the compare page -------------------------------------------------------------------------
CMP_RESULTS = "compare_results"  # {settings: result}, this person's runs
CMP_SHOWN = "compare_shown"  # the settings whose result is on screen
CMP_BACKBONE = "cmp_backbone"
CMP_MODEL_PATH = "cmp_model_path"
CMP_LAYER = "cmp_layer"
CMP_KIND = "cmp_kind"  # binary or classes
CMP_TARGET = "cmp_target"
CMP_CLASSES = "cmp_classes"
CMP_STRATEGIES = "cmp_strategies"
CMP_SEEDS = "cmp_seeds"
CMP_ROUNDS = "cmp_rounds"
CMP_PICK_SHARE = "cmp_pick_share"
CMP_BATCH = "cmp_batch"
CMP_NOISE = "cmp_noise"
CMP_HEAD = "cmp_head"
CMP_BUDGETS = "cmp_budgets"
CMP_RUN = "cmp_run"
CMP_SOURCE = "cmp_source"  # simulate here, or open a sweep's results
CMP_DATA = "cmp_data"  # MNIST digits or weather windows
CMP_QUESTION = "cmp_weather_question"  # the question asked of weather windows ("snow-today")
SWEEP_PATH = "sweep_path"  # the folder of a sweep's Parquet results
SWEEP_LINES = "sweep_lines"  # the key whose values are the chart's lines
SWEEP_FILTER = "sweep_filter"  # prefix: one multiselect per grid key, per folder

# --- the transfer lab page ---------------------------------------------------------------------
TR_RESULTS = "transfer_results"  # {settings: result}, this person's runs
TR_SHOWN = "transfer_shown"  # the settings whose run is on screen
TR_BUDGETS = "tr_budgets"
TR_SELECTIONS = "tr_selections"
TR_SEEDS = "tr_seeds"
TR_LAYERS = "tr_fine_tune_layers"
TR_RUN = "tr_run"
TR_DATA = "tr_data"  # the digits lab or the weather (snow) lab
TR_QUESTION = "tr_weather_question"  # the weather lab's question ("snow-today")
TR_WEATHER_BUDGETS = "tr_weather_budgets"  # the weather lab's own, as its choices differ
TR_WEATHER_SELECTIONS = "tr_weather_selections"
TR_WEATHER_SEEDS = "tr_weather_seeds"

# --- the room page ------------------------------------------------------------------------------
ROOM_SINCE_PARAM = "since"  # ?since=<unix seconds>: when the presenter said the room started
ROOM_HOURS = "room_hours"  # otherwise: sessions changed in this many last hours

# --- this browser ---------------------------------------------------------------------------------
BROWSER_ID = "browser_id"  # the id this browser keeps for itself (see ui.browser)
BROWSER_COMPONENT = "browser_component"  # the component that reports it
BROWSER_CLAIMED = "browser_claimed"  # the session already recorded as this browser's

# --- Look again (the Label page's suspect answers, ui/label/look_again.py) ------------------------------
LOOK_SHOWN = "look_again_shown"  # whether the panel is open
LOOK_STATE = "look_again_state"  # (session id, rounds, witnesses, suspects): this revision's
LOOK_TOGGLE = "look_again_toggle"
