#!/usr/bin/env bash
# Tools only the tests need: headless Chromium for the live-board test.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  echo "[test-tools] installing chromium (headless board test)" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >/dev/null && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null || \
    echo "[test-tools] chromium could not be installed; the board test will fail" >&2
fi
