"""`python -m jetbox`."""

import sys

from jetbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
