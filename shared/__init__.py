"""Code shared by every newsflow service: settings, schemas, stream names, ids, metrics."""

__version__ = "0.1.0"
