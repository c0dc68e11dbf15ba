"""PyInstaller entry script for the ``emgui`` program (see emgui.spec).

A script outside the package, so PyInstaller imports ``emgui`` as a package
rather than putting ``emgui/`` itself on the module search path.
"""

from emgui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
