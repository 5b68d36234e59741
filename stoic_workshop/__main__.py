"""`python -m stoic_workshop ...` is the `stoic-workshop` command: the form `accelerate launch -m stoic_workshop train`
needs, on several GPUs."""

import sys

from .cli import main

sys.exit(main())
