"""newsflow for its users: the ``newsflow`` command, the Python client and the tools.

``from newsflow import NewsflowClient, EventFilter`` pushes articles and follows enriched
events; ``python -m newsflow`` is the ``newsflow`` command (``up`` runs the pipeline under
its supervisor; ``bench``, ``replay``, ``dead`` and ``eval`` are here too). The services
themselves live in ``services/``, the code they share in ``shared/``.
"""

from newsflow.client import NewsflowClient
from shared import __version__
from shared.filters import EventFilter

__all__ = ["EventFilter", "NewsflowClient", "__version__"]
