"""``python -m BrainTumorAILib.cli``: the ``braintumorai`` command (the Slicer panel's child process runs this)."""

import sys

from . import main

sys.exit(main())
