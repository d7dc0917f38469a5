"""``python -m jaxtune.cli``: the ``jaxtune`` command."""

import sys

from jaxtune.cli.command import main

sys.exit(main())
