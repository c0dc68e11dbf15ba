"""``python -m emgui [FILE]``: the same as the ``emgui`` command."""

from emgui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
