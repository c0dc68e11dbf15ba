"""Double-click entry point: starts the EM Gap Filler window, nothing else."""

import sys

from emgui.app import main

if __name__ == "__main__":
    sys.exit(main())
