"""``emotion-bot serve``: the inference API for programs (the ``api`` extra: Starlette on uvicorn).

``app``      the ASGI application: routes, bearer-token check, access log without secrets
``bodies``   request bodies in (bounded uploads, raw samples), ``.npz`` answers out
``errors``   every refusal as ``{"error": code, "detail": text}``, mapped in one function
``runner``   the command: settings checks, one inference, listen, drain on SIGTERM

Importing this package is cheap; Starlette and uvicorn are imported by ``app`` and ``runner``.
"""
