"""``python -m central_agent`` (what the service units run)."""

import sys

from .cli import main

sys.exit(main())
