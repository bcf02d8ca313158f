"""The Stoxlify Core API over HTTP: the same core services the chat commands use, behind bearer tokens.

``api.app.create_app(core)`` builds the ASGI app (FastAPI); ``api.server`` serves it with uvicorn.
Routes hold no logic: each reads its request, calls a core service and shapes its answer.
"""
