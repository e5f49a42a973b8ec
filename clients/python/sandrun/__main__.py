"""``python3 -m sandrun``: the sandrun command."""
import sys

from .cli import main

sys.exit(main())
