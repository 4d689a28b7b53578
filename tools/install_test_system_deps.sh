#!/usr/bin/env bash
# Debian packages the tests need: GStreamer's RTSP server for the system Python (the live-stream tests start
# tools/rtsp_server.py with /usr/bin/python3 on 127.0.0.1), and Chromium (the live view's browser test drives
# Debian's chromium headless through playwright; no browser is downloaded from a CDN). A no-op when they are
# present; installs what is missing with apt-get (update first) when apt is usable; otherwise says why, and
# those tests skip with the reason.
set -euo pipefail
RTSP_PACKAGES="python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly"
PROBE="import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst; Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in ('appsrc', 'videoconvert', 'x264enc', 'rtph264pay'))"

PACKAGES=""
if ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "$PROBE" 2>/dev/null; }; then
    PACKAGES="$RTSP_PACKAGES"
fi
if ! command -v chromium >/dev/null 2>&1; then
    PACKAGES="$PACKAGES chromium"
fi
if [ -z "$PACKAGES" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_test_system_deps: no apt-get here; the tests that need them will skip (need:$PACKAGES)" >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_test_system_deps: not root and no password-less sudo; the tests that need them will skip (need:$PACKAGES)" >&2
        exit 0
    fi
fi
echo "install_test_system_deps: installing$PACKAGES" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $PACKAGES
