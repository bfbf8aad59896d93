"""``python -m bayesresp``: the command line."""

import sys

from bayesresp.cli import main

sys.exit(main())
