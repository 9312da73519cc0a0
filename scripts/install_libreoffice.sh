#!/usr/bin/env bash
# Install headless LibreOffice Calc and poppler (pdftoppm) from Debian.
# Used by the LibreOffice workbook tests (recalculation) and by
# scripts/render_workbooks.py (PDF -> PNG previews). Idempotent: returns at
# once when both tools are already on PATH.
set -euo pipefail

if command -v soffice >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; then
    echo "libreoffice and pdftoppm already installed: $(command -v soffice)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    libreoffice-calc-nogui poppler-utils fonts-dejavu-core fonts-liberation
command -v soffice
command -v pdftoppm
