"""``python -m receiver`` is the ``flowtrack`` command."""

import sys

from receiver.cli import main

sys.exit(main())
