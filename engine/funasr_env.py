"""The one place FunASR is imported: lazily, once, without letting it rearrange the process.

``import funasr`` takes ~5 s, prints to stdout and calls ``logging.basicConfig`` (root logger to
INFO). We import it only when a model is loaded, keep its prints off stdout (``--json`` output
must stay clean) and put the root logger back the way the application configured it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys


@functools.cache
def funasr_module():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import funasr  # noqa: F401  (registers the model classes)
            from funasr.models.emotion2vec import model as _e2v  # noqa: F401
    finally:
        root.setLevel(level)
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
    # FunASR's modules log at INFO about every tensor they map; keep them quiet.
    logging.getLogger("funasr").setLevel(logging.WARNING)
    return funasr


def emotion2vec_class():
    """FunASR's registered ``Emotion2vec`` model class."""
    funasr_module()
    from funasr.register import tables

    return tables.model_classes.get("Emotion2vec")
