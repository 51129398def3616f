"""``python -m st_resources.notify``: the ``st-notify`` command line."""

import sys

from st_resources.notify.cli import main

sys.exit(main())
