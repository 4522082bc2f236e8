"""`python -m kite_gateway` is the `kite-gateway` command."""

import sys

from kite_gateway.cli import main

sys.exit(main())
