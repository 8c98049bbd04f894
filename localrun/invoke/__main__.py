"""`python -m localrun.invoke EVENT`: what `make invoke EVENT=…` runs."""

from __future__ import annotations

from localrun.invoke.cli import main

raise SystemExit(main())
