"""``python -m newsflow`` is the ``newsflow`` command."""

from newsflow.cli import main

main()
