#!/usr/bin/env bash
# Start gnvc-preview under Xvfb on a real clip and save PNG screenshots to docs/img/.
#
#   gui/screenshot.sh [--model DIR] [--clip VIDEO]
#
# Needs Xvfb and Qt's xcb libraries (Debian: xvfb, libxcb-*); installs them with apt-get when missing and root.
# Without the shipped model (vsgnvc/weights/default) it builds the tiny test model, whose pictures are noise.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
out="$repo/docs/img"

# Xvfb, and the X libraries Qt's xcb platform plugin loads (not all come with a minimal system)
xcb_plugin="$("$python" -c 'from PyQt6.QtCore import QLibraryInfo as L; print(L.path(L.LibraryPath.PluginsPath))')/platforms/libqxcb.so"
if ! command -v Xvfb >/dev/null 2>&1 || ldd "$xcb_plugin" | grep -q "not found"; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "screenshot.sh: Xvfb or Qt's X libraries are missing; install Debian's xvfb and libxcb-* packages" >&2
        exit 1
    fi
    echo "screenshot.sh: installing xvfb and Qt's xcb libraries with apt-get" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
        libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 \
        libxcb-randr0 libxcb-xfixes0 >&2
fi

work="$(mktemp -d -t gnvc-shots.XXXXXX)"
xvfb_pid=""
cleanup() {
    if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

args=("$@")
if [ ! -f "$repo/vsgnvc/weights/default/model_index.json" ] && [[ " $* " != *" --model "* ]]; then
    echo "screenshot.sh: no default model; using the tiny test model (pictures will be noise)" >&2
    "$python" -c "import sys; sys.path.insert(0, '$repo/benchmarks'); from bench_gui import make_tiny_model; \
from pathlib import Path; make_tiny_model(Path('$work/tiny'))"
    args+=(--model "$work/tiny")
fi

# a free display number: the first without an X lock file
display=99
while [ -e "/tmp/.X${display}-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1320x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do
    [ -e "/tmp/.X11-unix/X${display}" ] && break
    sleep 0.1
done
[ -e "/tmp/.X11-unix/X${display}" ] || { echo "screenshot.sh: Xvfb did not start:" >&2; cat "$work/xvfb.log" >&2; exit 1; }

cd "$repo"
DISPLAY=":$display" QT_QPA_PLATFORM=xcb "$python" -m gui.screenshots "$out" "${args[@]}"
echo "screenshot.sh: screenshots in $out" >&2
