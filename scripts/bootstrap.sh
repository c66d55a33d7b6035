#!/usr/bin/env bash
# Create .venv with a CPython 3.12 or 3.13 interpreter and install vsgnvc into it (idempotent).
# VapourSynth R81 ships cp312-abi3 wheels (3.12 and later); 3.12 is preferred when both exist
# because it is what most of the VapourSynth ecosystem is built and tested against.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SUPPORTED="3.12 3.13"  # in order of preference

# is_supported PYTHON [VERSION]: the interpreter is CPython of VERSION (default: any supported one).
is_supported() {
    "$1" - "${2:-$SUPPORTED}" <<'PY' >/dev/null 2>&1
import platform, sys
ok = f"{sys.version_info[0]}.{sys.version_info[1]}" in sys.argv[1].split()
sys.exit(0 if ok and platform.python_implementation() == "CPython" else 1)
PY
}

find_python() {
    local version cand v
    if [ -n "${GNVC_PYTHON:-}" ]; then
        if is_supported "$GNVC_PYTHON"; then command -v "$GNVC_PYTHON"; return 0; fi
        echo "vsgnvc setup: GNVC_PYTHON=$GNVC_PYTHON is not CPython ${SUPPORTED// / or }" >&2
        return 1
    fi
    for version in $SUPPORTED; do
        cand=python$version
        if command -v "$cand" >/dev/null 2>&1 && is_supported "$cand" "$version"; then command -v "$cand"; return 0; fi
        # pyenv shims answer on PATH but refuse unless that version is selected: use the real binaries.
        if command -v pyenv >/dev/null 2>&1; then
            for v in $(pyenv versions --bare 2>/dev/null | grep -E "^${version//./\.}(\.[0-9]+)?$" | sort -rV); do
                cand="$(pyenv root)/versions/$v/bin/python$version"
                if is_supported "$cand" "$version"; then echo "$cand"; return 0; fi
            done
        fi
        for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/python"$version" \
                    /usr/bin/python"$version" /usr/local/bin/python"$version"; do
            if [ -x "$cand" ] && is_supported "$cand" "$version"; then echo "$cand"; return 0; fi
        done
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ] || ! is_supported "$VENV/bin/python"; then
    if ! PY=$(find_python); then
        echo "vsgnvc setup: no CPython 3.12 or 3.13 interpreter found." >&2
        echo "  VapourSynth R81 needs CPython >= 3.12, and vsgnvc is tested on 3.12 and 3.13." >&2
        echo "  Install one (e.g. 'pyenv install 3.12' or 'apt install python3.13-venv') or point GNVC_PYTHON at it." >&2
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
