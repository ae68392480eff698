#!/usr/bin/python3
"""Push the fixed content that test_config.TestReadOnly pulls.

usage: seed.py URL   (run.sh calls it before restarting that registry read-only)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import Registry  # noqa: E402
from test_config import seed  # noqa: E402

if __name__ == "__main__":
    seed(Registry(sys.argv[1]))
    print("seeded", sys.argv[1])
