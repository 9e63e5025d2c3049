"""The Skyseal HTTP service: a FastAPI app over the pipeline, the detector and the ledger."""

from .app import create_app

__all__ = ["create_app"]
