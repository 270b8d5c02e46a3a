"""`python -m humanmatting.cli`: the same command as `humanmatting`."""

import sys

from humanmatting.cli import main

sys.exit(main())
