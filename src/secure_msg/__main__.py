"""`python -m secure_msg` is the same as the `secure-msg` command."""

import sys

from secure_msg.cli import main

sys.exit(main())
