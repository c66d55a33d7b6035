#!/usr/bin/env bash
# Create .venv with a Python 3.12 interpreter and install vsgnvc into it (idempotent).
# VapourSynth R81 ships cp312-abi3 wheels only, and compressai 1.2.8 has no cp313 wheel,
# so the interpreter must be CPython 3.12.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

is_py312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local cand
    for cand in "${GNVC_PYTHON:-}" python3.12; do
        [ -n "$cand" ] || continue
        if command -v "$cand" >/dev/null 2>&1 && is_py312 "$cand"; then command -v "$cand"; return 0; fi
        # pyenv shims answer on PATH but refuse unless a 3.12 version is selected.
        if command -v pyenv >/dev/null 2>&1; then
            local v
            for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -rV); do
                if PYENV_VERSION=$v is_py312 "$(pyenv root)/versions/$v/bin/python3.12"; then
                    echo "$(pyenv root)/versions/$v/bin/python3.12"; return 0
                fi
            done
        fi
    done
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
        if [ -x "$cand" ] && is_py312 "$cand"; then echo "$cand"; return 0; fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ] || ! is_py312 "$VENV/bin/python"; then
    if ! PY=$(find_python); then
        echo "vsgnvc setup: no Python 3.12 interpreter found." >&2
        echo "  VapourSynth R81 needs CPython >= 3.12 and compressai 1.2.8 has no 3.13 wheel, so 3.12 is required." >&2
        echo "  Install one (e.g. 'pyenv install 3.12') or point GNVC_PYTHON at it." >&2
        exit 1
    fi
    echo "vsgnvc setup: creating $VENV with $PY" >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

stamp="$VENV/.vsgnvc-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "vsgnvc setup: installing packages into $VENV (first time: several minutes, torch is large)" >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e ".[test]" >&2
    touch "$stamp"
fi

# vspipe only works once the venv's interpreter and libpython are recorded. Always (re)write it:
# it is cheap, keyed by this venv's path, and check-env exits 0 even when unconfigured.
"$VENV/bin/vapoursynth" config >/dev/null
if "$VENV/bin/vapoursynth" check-env 2>&1 | grep "NOT CONFIGURED" >/dev/null; then
    echo "vsgnvc setup: 'vapoursynth config' did not configure $VENV; vspipe will not work" >&2
    exit 1
fi
