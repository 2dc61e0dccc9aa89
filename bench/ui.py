"""How fast the page follows the user. Not a test: it prints figures against the targets.

    python bench/ui.py            # server-side build once per program, and click -> pixels in Chromium
    python bench/ui.py --no-browser

Rewritten for the step view in the browser; see bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
