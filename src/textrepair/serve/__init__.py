"""The HTTP service: FastAPI app, micro-batcher, model slot with reload, metrics, access logs.

`create_app(settings, repairer=...)` builds the app; `textrepair serve` runs it with uvicorn.
"""
