"""The ``newsflow`` commands, each a ``cmd_*`` function from parsed arguments to an exit
code: on the streams (``streams``), running the pipeline (``pipeline``) and the tools
beside it (``tools``); what they share is in ``errors`` and ``session``."""
