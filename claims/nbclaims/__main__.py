import sys

from nbclaims.cli import main

sys.exit(main())
