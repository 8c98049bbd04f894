"""`python -m admin`: the same as the `wa-admin` command."""

from __future__ import annotations

from admin.cli import main

raise SystemExit(main())
