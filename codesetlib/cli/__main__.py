"""`python -m codesetlib.cli`: the `codeset` command."""

import sys

from codesetlib.cli.main import main

sys.exit(main())
