"""Package data of EM Gap Filler: the icons, the launcher's ``.desktop`` template, the sample class.

The folder sits at the top of the project (beside ``emgui/``) and is
installed as ``emgui.resources`` (``package-dir`` in ``pyproject.toml``);
:func:`emgui._resources.resource_dir` finds it in every layout.
"""
