"""One exception hierarchy for onelazy, grouped by cause.

Every error onelazy raises on purpose is an :class:`OnelazyError`. The CLI turns one into a single
line on stderr and its :attr:`~OnelazyError.exit_code`: 2 when the person's input is wrong (a usage
error: fix the command, the file or the folder), 1 when something failed that the input did not
cause (a server, OneTrainer, the disk).

    OnelazyError
    ├── UsageError                      exit 2: the input is wrong
    │   ├── ConfigError                 a OneTrainer config, concepts or samples file / value
    │   │   └── MigrationError          an old config OneTrainer's own migration would crash on
    │   ├── PresetError                 a preset name or preset file
    │   ├── ProjectFileError            onelazy.yaml
    │   ├── DatasetError                an image folder: missing, empty, unwritable
    │   └── UnknownBackendName          a model/LoRA/sampler name the server lacks (also BackendRejected)
    ├── OneTrainerError                 exit 1: the OneTrainer install
    │   ├── OneTrainerNotFound
    │   └── OneTrainerVersionMismatch
    ├── BackendError                    exit 1: SwarmUI / ComfyUI
    │   ├── BackendUnreachable
    │   ├── BackendProtocolError
    │   ├── BackendRejected
    │   └── BackendInterrupted
    ├── EverythingRejected              exit 1: cull rejected every image of a dataset
    ├── LaunchError                     exit 1: running OneTrainer
    │   ├── PreflightError
    │   └── WorkspaceLocked
    ├── EvidenceError                   exit 1: OneTrainer's logs (reader missing, file damaged)
    ├── ImageScoreError                 exit 1: the optional image model (packages, weights)
    └── StorageError                    exit 1: a file could not be written or moved
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class OnelazyError(Exception):
    """Base of every error onelazy raises on purpose; the CLI prints it as one line."""

    exit_code: int = 1


# --------------------------------------------------------------------------- the input is wrong


class UsageError(OnelazyError):
    """The person's input (flags, a file, a folder) is wrong; fixing it fixes the error."""

    exit_code = 2


class ConfigError(UsageError):
    """A value in a OneTrainer config, concepts or samples file is not one OneTrainer would take.

    Carries where (``file``, the dotted ``key``) and what would be accepted (``allowed``, and a
    ``hint`` such as a "did you mean"), so a message can name all of them in one line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        allowed: Sequence[str] | str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.allowed = allowed
        self.hint = hint
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ": ".join(part for part in (self.file, self.key) if part)
        text = f"{where}: {self.detail}" if where else self.detail
        if self.hint:
            text += f"; {self.hint}"
        return text


class MigrationError(ConfigError):
    """An old config that OneTrainer's own migration would crash on (e.g. a partial unversioned dict)."""


class WrongModelFamily(ConfigError):
    """The base model is of another model family than the preset (an SDXL preset on an SD 1.5
    folder): OneTrainer would fail on it with a traceback, or train nonsense."""


class PresetError(UsageError):
    """An unknown preset name, or a preset file that is not valid."""


class ProjectFileError(UsageError):
    """``onelazy.yaml`` is not valid; the message names the line and column."""


class DatasetError(UsageError):
    """An image folder that cannot be used: missing, not a folder, empty, or unwritable."""


# --------------------------------------------------------------------------- OneTrainer install


class OneTrainerError(OnelazyError):
    """The OneTrainer install cannot be used as it is."""


class OneTrainerNotFound(OneTrainerError):
    """No OneTrainer at the given path or ``ONETRAINER_DIR``, or it lacks ``scripts/train.py``."""


class OneTrainerVersionMismatch(OneTrainerError):
    """The OneTrainer install expects a config version other than the one onelazy writes."""


# --------------------------------------------------------------------------- image backends


class BackendError(OnelazyError):
    """A SwarmUI or ComfyUI server did not do what was asked; the message names the URL."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(f"{url}: {message}" if url else message)


class BackendUnreachable(BackendError):
    """The server could not be reached (refused, timed out, dropped) after bounded retries."""


class BackendProtocolError(BackendError):
    """The server answered, but not in the shape its protocol promises (or is not the kind named)."""


class BackendRejected(BackendError):
    """The server understood the request and refused it (unknown model, bad parameter, node error)."""


class BackendInterrupted(BackendError):
    """Work was abandoned because the client was interrupted or closed (Ctrl+C, a stop request)."""


class UnknownBackendName(UsageError, BackendRejected):
    """A model, LoRA, sampler or scheduler name the server does not have: the person's input, so exit 2.

    Listed under :class:`UsageError` (defined here because it is also a :class:`BackendRejected`, so
    code that stops on a refused request still does).
    """


# --------------------------------------------------------------------------- culling


class EverythingRejected(OnelazyError):
    """cull rejected every image, so nothing is left to train on (the thresholds, not the input's
    form, are the likely fault); ``report`` is the :class:`~onelazy.culling.CullReport`, with the
    moves already made (``--undo`` puts them back) unless it was a dry run."""

    def __init__(self, message: str, *, report: object) -> None:
        self.report = report
        super().__init__(message)


# --------------------------------------------------------------------------- running OneTrainer


class LaunchError(OnelazyError):
    """A training run could not be started or did not end well."""


class PreflightError(LaunchError):
    """A check before starting OneTrainer failed; nothing was started."""


class WorkspaceLocked(LaunchError):
    """Another launch is already running in the same workspace (its lock file is held)."""


# --------------------------------------------------------------------------- the training's logs


class EvidenceError(OnelazyError):
    """OneTrainer's logs of a run cannot be read: the optional reader (``onelazy[evidence]``) is not
    installed, or an event file is damaged."""


# --------------------------------------------------------------------------- the image score


class ImageScoreError(OnelazyError):
    """The image model of the optional score cannot be used: ``torch`` or ``transformers`` is not
    installed (``onelazy[score]``), or its weights could not be loaded (no network and not in the
    Hugging Face cache, not an image model)."""


# --------------------------------------------------------------------------- the disk


class StorageError(OnelazyError):
    """A file could not be written, moved or read back; nothing was left half-written."""
