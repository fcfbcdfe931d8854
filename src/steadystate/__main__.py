"""``python -m steadystate``: the same as the ``steadystate`` console script."""

from __future__ import annotations

import sys

from steadystate.cli import main

sys.exit(main())
