"""`python -m tl_active ...`: the command line (see `tl_active/cli/`)."""

import sys

from tl_active.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
