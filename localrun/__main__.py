"""`python -m localrun`: the whole system locally, with a chat simulator (what `make run` runs)."""

from __future__ import annotations

from localrun.cli import main

raise SystemExit(main())
