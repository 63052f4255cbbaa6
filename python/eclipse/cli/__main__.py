"""``python -m eclipse.cli``."""

import sys

from eclipse.cli import main

sys.exit(main())
