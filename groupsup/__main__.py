import sys

from groupsup.cli import main

sys.exit(main())
