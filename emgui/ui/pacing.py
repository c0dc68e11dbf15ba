"""When the window does its work in steps: the size that counts as a large sheet, the pause between steps.

Shared by the window's parts (:mod:`emgui.ui.files`, :mod:`emgui.ui.fitting`,
:mod:`emgui.ui.view`); read as ``pacing.LARGE_ROWS`` at the moment of use,
so a test can make a small sheet count as large.
"""

from __future__ import annotations

#: Sheets with at least this many rows give memory back after a sort or
#: filter, and are shown in steps (table, then column widths and plot)...
LARGE_ROWS = 100_000
#: ...this many milliseconds apart, so the event loop paints and handles
#: input between the steps.
STEP_MS = 20
