"""Sub-commands of the ``braintumorai`` command line, one module each with ``add_parser(subparsers)``."""
