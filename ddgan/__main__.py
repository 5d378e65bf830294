import sys

from ddgan.cli import main

sys.exit(main())
