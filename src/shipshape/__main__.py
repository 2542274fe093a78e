"""``python -m shipshape``: the same as the ``shipshape`` command."""

from shipshape.cli import main

main()
