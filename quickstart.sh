#!/usr/bin/env bash
# Set up emotion-bot in ./.venv (installing ffmpeg and python3-venv with apt when missing), then:
#   ./quickstart.sh demo   analyse the bundled sample clips in samples/ with emotion2vec+ large
#   ./quickstart.sh test   lint (ruff check) and run the test suite
#   ./quickstart.sh setup  only set up
# Environment: PYTHON (default python3), TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu
# for the CPU-only PyTorch build on a machine without an NVIDIA GPU).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  command -v apt-get >/dev/null || { echo "please install: $*" >&2; exit 1; }
  echo "installing $* with apt-get" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

setup() {
  command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_install ffmpeg
  "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
  if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv 2>/dev/null || { rm -rf .venv; apt_install python3-venv; "$PYTHON" -m venv .venv; }
  fi
  local pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
  if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    "${pip[@]}" "torch==$TORCH_VERSION" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
  fi
  "${pip[@]}" -e ".[dev]"
}

cmd=${1:-demo}
case "$cmd" in
  setup) setup ;;
  demo) setup; .venv/bin/emotion-bot analyze samples/ --embedding ;;
  test) setup; shift || true
        # the Ray suite brings up loopback in its own network namespace (unshare -rn + ip)
        command -v ip >/dev/null || (apt_install iproute2) || echo "no ip command: the Ray tests will fail" >&2
        .venv/bin/ruff check --quiet . || { echo "ruff check found problems (above)" >&2; exit 1; }
        exec .venv/bin/python -m pytest "$@" ;;
  *) echo "usage: $0 demo|test|setup" >&2; exit 2 ;;
esac
