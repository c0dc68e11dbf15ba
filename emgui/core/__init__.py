"""The pure-Python core: EM, parsing, the sheet, file I/O and filling.

Nothing here imports Qt; ``tests/core/test_architecture.py`` and the
import-linter contract in ``pyproject.toml`` hold that.
"""
