#!/usr/bin/env bash
# Start gnvc-preview under Xvfb on a real clip and save PNG screenshots.
#
#   gui/screenshot.sh [--out DIR] [--model DIR] [--clip VIDEO]
#
# --out: where the PNG files go (default out/screenshots; the README's pictures are docs/img, so pass
# --out docs/img to replace them on purpose). Needs Xvfb and Qt's xcb libraries (Debian: xvfb, libxcb-*);
# when they are missing it prints the apt-get command, and runs it only when you answer yes at a terminal.
# Without the shipped model (vsgnvc/weights/default) it builds the tiny test model, whose pictures are noise.
# XVFB names the Xvfb binary (default: Xvfb on PATH).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
xvfb="${XVFB:-Xvfb}"
out="out/screenshots"
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || { echo "screenshot.sh: --out needs a folder" >&2; exit 2; }; out="$2"; shift 2 ;;
        --out=*) out="${1#--out=}"; shift ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac  # relative paths mean where the script was started
echo "screenshot.sh: screenshots go to $out" >&2

# Xvfb, and the X libraries Qt's xcb platform plugin loads (not all come with a minimal system)
packages=(xvfb libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1
          libxkbcommon-x11-0 libxcb-cursor0 libxcb-shape0 libxcb-randr0 libxcb-xfixes0)
xcb_plugin="$("$python" -c 'from PyQt6.QtCore import QLibraryInfo as L; print(L.path(L.LibraryPath.PluginsPath))')/platforms/libqxcb.so"
if ! command -v "$xvfb" >/dev/null 2>&1 || ldd "$xcb_plugin" | grep -q "not found"; then
    install="apt-get update && apt-get install -y ${packages[*]}"
    [ "$(id -u)" -eq 0 ] || install="sudo sh -c '$install'"
    echo "screenshot.sh: Xvfb or Qt's X libraries are missing; install them with:" >&2
    echo "    $install" >&2
    answer=""
    if [ -t 0 ] && [ -t 2 ]; then
        read -r -p "Run this now? [y/N] " answer
    fi
    case "$answer" in
        y|Y|yes|YES) bash -c "$install" >&2 ;;
        *) exit 1 ;;
    esac
fi

work="$(mktemp -d -t gnvc-shots.XXXXXX)"
xvfb_pid=""
cleanup() {
    if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$repo/vsgnvc/weights/default/model_index.json" ] && [[ " ${args[*]-} " != *" --model "* ]]; then
    echo "screenshot.sh: no default model; using the tiny test model (pictures will be noise)" >&2
    "$python" -c "import sys; sys.path.insert(0, '$repo/benchmarks'); from bench_gui import make_tiny_model; \
from pathlib import Path; make_tiny_model(Path('$work/tiny'))"
    args+=(--model "$work/tiny")
fi

# a free display number: the first without an X lock file
display=99
while [ -e "/tmp/.X${display}-lock" ]; do display=$((display + 1)); done
"$xvfb" ":$display" -screen 0 1320x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do
    [ -e "/tmp/.X11-unix/X${display}" ] && break
    sleep 0.1
done
[ -e "/tmp/.X11-unix/X${display}" ] || { echo "screenshot.sh: Xvfb did not start:" >&2; cat "$work/xvfb.log" >&2; exit 1; }

DISPLAY=":$display" QT_QPA_PLATFORM=xcb PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" \
    "$python" -m gui.screenshots "$out" ${args[@]+"${args[@]}"}
echo "screenshot.sh: screenshots in $out" >&2
