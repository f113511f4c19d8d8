import sys

from vggbench.cli import main

sys.exit(main())
