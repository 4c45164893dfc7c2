import sys

from cytomics.cli import main

sys.exit(main())
