#!/usr/bin/env bash
# Installs everything nfp needs on a fresh Debian 12 machine:
#  - Debian packages (only the missing ones; needs root or sudo),
#  - the MuJoCo C library and headers, unpacked from the PyPI wheel into a cache
#    folder (no Python is used at run time; pip only downloads the file).
# Idempotent: a second run does nothing but check.
set -euo pipefail

MUJOCO_VERSION=3.17.0
MUJOCO_WHEEL=mujoco-${MUJOCO_VERSION}-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
MUJOCO_SHA256=d66928d86a2d1b601bbaa4dc11db50214d17d5301bb8afd84721313b67ff0874
NFP_CACHE=${NFP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nfp}
MUJOCO_DIR="$NFP_CACHE/mujoco-$MUJOCO_VERSION"

PACKAGES=(
  build-essential cmake pkg-config unzip ca-certificates
  libopenblas-dev libzmq3-dev libglfw3-dev libcmocka-dev libhdf5-dev
  libosmesa6-dev libgl-dev libcjson-dev libpng-dev zlib1g-dev libturbojpeg0-dev clang
  libopenmpi-dev openmpi-bin libcairo2-dev libavcodec-dev libavformat-dev libavutil-dev
  libswscale-dev
  xvfb xauth python3-pip
)
# Optional peers for reference tests and benchmarks (PyTorch from Debian).
if [ "${NFP_WITH_TORCH:-1}" = 1 ]; then PACKAGES+=(python3-torch python3-torchvision python3-numpy); fi
# h5py writes the ALOHA-layout episodes the reader is tested on; venv holds MuJoCo's Python
# bindings, with which the plugin is tested in a stock MuJoCo host.
PACKAGES+=(python3-h5py python3-venv)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "nfp: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f "$MUJOCO_DIR/lib/libmujoco.so.$MUJOCO_VERSION" ]; then
  echo "nfp: fetching MuJoCo $MUJOCO_VERSION C library into $MUJOCO_DIR"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  PIP="python3 -m pip"; $PIP --version >/dev/null 2>&1 || PIP="/usr/bin/python3 -m pip"
  $PIP download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
       --python-version 3.11 -d "$tmp" "mujoco==$MUJOCO_VERSION"
  echo "$MUJOCO_SHA256  $tmp/$MUJOCO_WHEEL" | sha256sum -c --quiet
  unzip -q "$tmp/$MUJOCO_WHEEL" 'mujoco/libmujoco.so*' 'mujoco/include/mujoco/*' 'mujoco/plugin/*' -d "$tmp/x"
  mkdir -p "$MUJOCO_DIR.part/lib"
  cp -r "$tmp/x/mujoco/include" "$MUJOCO_DIR.part/"
  cp "$tmp/x/mujoco/libmujoco.so.$MUJOCO_VERSION" "$MUJOCO_DIR.part/lib/"
  cp -r "$tmp/x/mujoco/plugin" "$MUJOCO_DIR.part/lib/"
  rm -rf "$MUJOCO_DIR"; mv "$MUJOCO_DIR.part" "$MUJOCO_DIR"
fi
# MuJoCo's own Python bindings (same version), only for the tests that load the plugin
# in them; nfp never runs Python. A failure here skips those tests, nothing else.
PYENV="$NFP_CACHE/python"
if ! "$PYENV/bin/python" -c "import mujoco" >/dev/null 2>&1; then
  echo "nfp: installing MuJoCo's Python bindings $MUJOCO_VERSION into $PYENV (plugin tests)"
  rm -rf "$PYENV"
  if ! { /usr/bin/python3 -m venv --system-site-packages "$PYENV" &&
         "$PYENV/bin/python" -m pip install -q --only-binary=:all: "mujoco==$MUJOCO_VERSION"; }; then
    echo "nfp: warning: no MuJoCo Python bindings; the plugin's Python tests will be skipped"
    rm -rf "$PYENV"
  fi
fi
echo "nfp: dependencies ready (MuJoCo at $MUJOCO_DIR)"
