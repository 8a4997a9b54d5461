#!/usr/bin/env bash
# Tools only the tests need: headless Chromium (and a CJK font, so the Chinese on the
# board renders in its screenshot) for the live-board test.
set -euo pipefail
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "[test-tools] installing ${missing[*]} (headless board test)" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq >/dev/null && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null || \
    echo "[test-tools] could not install ${missing[*]}; the board test will fail" >&2
fi
