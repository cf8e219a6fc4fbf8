"""``python -m services`` is the ``newsflow`` command."""

from services.cli import main

main()
