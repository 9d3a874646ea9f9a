#!/usr/bin/env bash
# Headless Chromium and its driver for the explorer's browser test (Debian packages).
# Never fails the set-up: where they cannot be installed, the browser test skips and says why.
set -u
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    echo "install_browser: not root and no sudo; the browser test will be skipped" >&2
    exit 0
fi
SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo -n")
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
    || echo "install_browser: apt-get could not install chromium chromium-driver; the browser test will be skipped" >&2
exit 0
