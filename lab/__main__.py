"""python -m lab up|smoke|down: see lab/__init__.py and lab/deploy.py."""

import sys

from .deploy import main

sys.exit(main())
