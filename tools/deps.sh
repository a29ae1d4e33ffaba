#!/usr/bin/env bash
# Installs the Debian packages Hearth needs to build, run and test, when run as root;
# otherwise lists exactly what is missing and fails. Called by `make deps`.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libmicrohttpd-dev libwslay-dev libsodium-dev libsqlite3-dev libjansson-dev
    libcurl4-openssl-dev libgnutls28-dev libnats-dev libopus-dev libsrtp2-dev libnice-dev
    libglib2.0-dev zlib1g-dev libcmocka-dev
    python3-pytest python3-requests python3-websockets
    chromium fonts-liberation fonts-dejavu-core fonts-noto-color-emoji
)

# chromium (with an emoji font) runs the web client's browser tests (tests/browser).
# Node.js drives the discord.js and browser tests; any Node.js 18 or newer will do.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "hearth: missing Debian packages: ${missing[*]}" >&2
    echo "hearth: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "hearth: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
