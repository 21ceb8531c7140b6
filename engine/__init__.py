"""emotion2vec inference: load the model once, serve concurrent callers through one engine.

Importing this package is cheap: torch and FunASR are imported when a model is loaded.
"""

from engine.engine import Engine, EngineBusy, EngineConfig
from engine.errors import EngineClosed, EngineError
from engine.loader import LoadedModel, ModelLoadError, ModelSpec, load_model
from engine.timeline import Timeline
from engine.types import ClipResult

__all__ = [
    "ClipResult",
    "Engine",
    "EngineBusy",
    "EngineClosed",
    "EngineConfig",
    "EngineError",
    "LoadedModel",
    "ModelLoadError",
    "ModelSpec",
    "Timeline",
    "load_model",
]
