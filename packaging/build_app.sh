#!/usr/bin/env bash
# Build the one-folder desktop program into dist/emgui/ and smoke-test it.
#
#     packaging/build_app.sh            # from anywhere; uses ./.venv
#     PYTHON=/path/to/python packaging/build_app.sh
#     SKIP_SMOKE=1 packaging/build_app.sh
#     DISTDIR=/tmp/out WORKDIR=/tmp/work packaging/build_app.sh   # build outside the tree
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-$root/.venv/bin/python}"
distdir="${DISTDIR:-$root/dist}"
workdir="${WORKDIR:-$root/build/pyinstaller}"

if ! "$python" -m PyInstaller --version >/dev/null 2>&1; then
    echo "Installing PyInstaller into $("$python" -c 'import sys; print(sys.prefix)')"
    "$python" -m pip install --quiet "pyinstaller>=6.5"
fi

start=$(date +%s)
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$distdir" --workpath "$workdir" \
    "$root/packaging/emgui.spec"

# The interpreter's own libraries ship with their symbol tables (about 25 MB
# here).  Only they are stripped: wheel libraries were edited by patchelf,
# and stripping such files can break them.
internal="$distdir/emgui/_internal"
if [ "$(uname -s)" = Linux ] && command -v strip >/dev/null; then
    find "$internal" -maxdepth 1 -type f -name 'libpython3*.so*' -exec strip --strip-unneeded {} +
    find "$internal" -type f -path '*/lib-dynload/*.so' -exec strip --strip-unneeded {} +
fi
elapsed=$(( $(date +%s) - start ))

exe="$distdir/emgui/emgui"
[ -x "$exe" ] || exe="$distdir/emgui/emgui.exe"
echo "Built $exe in ${elapsed}s; folder size $(du -sh "$distdir/emgui" | cut -f1)"

if [ -z "${SKIP_SMOKE:-}" ]; then
    # No screen needed for the checks (CI, ssh).
    if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
    fi
    "$exe" --version
    "$exe" --self-check
    echo "Smoke test passed."
fi
