#!/usr/bin/env bash
# Install headless LibreOffice Calc and poppler (pdftoppm) from Debian.
# Used by the LibreOffice workbook tests (recalculation) and by
# scripts/render_workbooks.py (PDF -> PNG previews). Idempotent: returns at
# once when both tools are already on PATH; stops with the command to run when
# they are missing and it cannot install them (not root, no password-less sudo).
set -euo pipefail

if command -v soffice >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; then
    echo "libreoffice and pdftoppm already installed: $(command -v soffice)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    # Not root: only go on with a sudo that needs no password (make must not hang on
    # a prompt); otherwise say what to run and stop, before any test starts.
    if ! command -v sudo >/dev/null 2>&1 || ! sudo -n true 2>/dev/null; then
        echo "LibreOffice (soffice) and poppler (pdftoppm) are needed by make test and are" \
            "not installed; install them as root, then run make test again:" >&2
        echo "    sudo bash scripts/install_libreoffice.sh" >&2
        echo "(make test-fast runs every test that needs neither.)" >&2
        exit 2
    fi
    SUDO="sudo -n"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    libreoffice-calc-nogui poppler-utils fonts-dejavu-core fonts-liberation
command -v soffice
command -v pdftoppm
