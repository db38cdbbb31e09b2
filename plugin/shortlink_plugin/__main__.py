"""`python -m shortlink_plugin` is `kubectl shortlink`."""

import sys

from shortlink_plugin.cli import main

if __name__ == "__main__":
    sys.exit(main())
