"""Is a model name a local path or a Hugging Face repo id? One rule for every place that asks.

OneTrainer takes ``base_model_name`` (and the other model names) as either, and loads a local path
when one exists, else downloads the repo. onelazy reads a name as a **Hugging Face repo id** only
when it is written as one: ``owner/name`` - exactly one ``/``, letters, digits, ``.``, ``_`` and
``-``, not starting with ``.`` or ``~``, and not ending in a model file's suffix (``.safetensors``,
``.ckpt``...). Anything else (``/models/sd15``, ``./sd15``, ``~/m.safetensors``, ``sd15.safetensors``,
``C:\\models\\x``) is a **local path**, so it must exist; an ``owner/name`` that exists as a folder
beside the file is local too, as OneTrainer would take it.
"""

from __future__ import annotations

import re

#: ``owner/name`` as Hugging Face spells repo ids
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: what a single-file model (or a LoRA) ends in
MODEL_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def is_hub_id(name: str) -> bool:
    """``name`` is written as a Hugging Face repo id (``owner/name``), not as a path."""
    return bool(_HUB_ID.match(name)) and not name.lower().endswith(MODEL_FILE_SUFFIXES)


def is_remote(name: str) -> bool:
    """``name`` is fetched by OneTrainer rather than read from this disk: a Hugging Face repo id, or a
    URL to a single file (which diffusers loads with ``from_single_file``)."""
    return "://" in name or is_hub_id(name)
