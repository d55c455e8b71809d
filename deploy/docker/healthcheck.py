"""Container health check: GET http://127.0.0.1:$CENTRAL_HEALTH_PORT/health must answer 200.

The web process answers on its HTTP port; the others on their metrics port
(central.core.metrics serves /health there too). Standard library only: the image has
no curl.
"""

import os
import sys
import urllib.request

port = int(os.environ.get("CENTRAL_HEALTH_PORT", "8000"))
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"health check on port {port} failed: {exc}", file=sys.stderr)
    sys.exit(1)
