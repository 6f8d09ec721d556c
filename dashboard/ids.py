"""The shell's component ids, one name each: what a tab may read (``Input(ids.RUN_PICKER, "value")``) and
the few it may write (``ids.FOCUS``, ``ids.SELECTION``). A typo is a NameError at import, not a silent
callback; the values are what assets/*.js and the browser tests look for, so they do not change."""

from __future__ import annotations

# read by the tabs
DATASET_PICKER = "dataset-picker"  # .value: the dataset's name
RUN_PICKER = "run-picker"  # .value: the picked run's id
STORE_VERSION = "store-version"  # .data: bumped whenever a job writes a run
TABS = "tabs"  # .active_tab: the open tab's TAB_ID
SESSION_ID = "session-id"  # .data: this browser tab's session (jobs and runs drawn per session)

# written by the tabs (besides their own ids)
FOCUS = "focus"  # .data: a jump between tabs, {"tab": …, …}
SELECTION = "selection"  # .data: the one selection (dashboard.selection)
SELECTION_MODE = "selection-mode"  # .data: the modifier held when the last drag started

# the shell's own
SELECTION_COUNT = "selection-count"
SELECTION_CLEAR = "selection-clear"
SHELL_ALERT = "shell-alert"
TAB_RUN_BAR = "tab-run-bar"
TAB_RUN_PICKER = "tab-run-picker"
TAB_RUN_NOTE = "tab-run-note"
DATASET_INFO = "dataset-info"
DATASET_SKIPPED = "dataset-skipped"
RUN_INFO = "run-info"
RUN_DELETE = "run-delete"
RUN_DELETE_BUTTON = "run-delete-button"
NEW_RUN_MENU = "new-run-menu"
MODEL_KEPT = "model-kept"  # .data: the Your model tab's picks, kept across reloads
