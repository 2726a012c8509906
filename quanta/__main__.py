"""``python -m quanta ...``: the ``quanta`` command (e.g. under ``torchrun -m quanta run``)."""

import sys

from quanta.cli import main

sys.exit(main())
