"""onelazy: the lazy LoRA recipe as a library and a command line.

The public functions are imported on first use, so ``import onelazy`` stays cheap::

    import onelazy
    config = onelazy.onetrainer.read_train_config("config.json")
"""

from __future__ import annotations

from onelazy._lazy import lazy_getattr

__version__ = "0.1.0"

# public name -> module that defines it; resolved lazily by __getattr__.
_LAZY: dict[str, str] = {
    "errors": "onelazy.errors",
    "onetrainer": "onelazy.onetrainer",
    "build_config": "onelazy.build",
    "launch": "onelazy.training",
    "cull": "onelazy.culling",
    "undo_cull": "onelazy.culling",
    "review": "onelazy.review",
    "generate": "onelazy.generation",
    "backends": "onelazy.backends",
    "compare": "onelazy.comparison",
    "find_checkpoints": "onelazy.comparison",
    "pick_checkpoint": "onelazy.comparison",
    "init_project": "onelazy.project",
    "load_project": "onelazy.project",
    "run_project": "onelazy.pipeline",
    "project_status": "onelazy.pipeline",
}

__all__ = ["__version__", *_LAZY]


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
