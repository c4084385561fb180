"""An optional second opinion beside the loss: what an image-embedding model sees in the renders.

The validation loss says how well a checkpoint predicts noise on held-out images; it does not look
at a finished picture. An image-embedding model (CLIP) does: it maps a picture to a vector, and
pictures of the same subject lie close together. Per checkpoint, from the cosine similarity of those
vectors (1 = the same picture as far as the model can tell):

- **likeness**: how close its renders are to the run's training images (the mean similarity of
  each render to each training image). The no-LoRA row gives the baseline: what the prompt alone
  brings.
- **pull**: how far the LoRA moves each render from the no-LoRA render of the same prompt and seed
  (1 - their similarity, averaged). Little pull is a LoRA that does little; a pull that keeps
  growing while the likeness stops rising is a LoRA that paints its training images over the prompt.

The numbers are shown beside the losses and never enter the suggestion (:func:`onelazy.evidence.
suggest` reads the losses only). The model is any Hugging Face model with ``get_image_features``
(CLIP, SigLIP), a hub id fetched on first use into the Hugging Face cache or a local folder, through
``transformers`` and ``torch`` (the optional extra ``onelazy[score]``). Embeddings are kept in
``compare/embeddings/`` by file content, so a rerun embeds only new images.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from onelazy._files import atomic_write_bytes, sha256_file
from onelazy.errors import ImageScoreError, UsageError
from onelazy.onetrainer.model_names import is_hub_id

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Embeddings = npt.NDArray[np.float64]

#: A small CLIP, the one the docs name: about 15 s per hundred 1024 px images on two CPU cores
#: (``bench/bench_image_score.py``), far less on a GPU.
SUGGESTED_MODEL = "openai/clip-vit-base-patch32"
#: Images embedded per forward pass.
BATCH_SIZE = 16
#: Where embeddings are kept, under the comparison folder.
EMBEDDINGS_DIR = "embeddings"
#: What the two numbers mean and cannot say, shown beside them.
SCORE_MEANING = (
    "likeness = the mean cosine similarity of a row's renders to the training images (1 = the same "
    "picture to the image model; the no-LoRA row is the baseline the prompt alone gives); pull = how "
    "far the LoRA moves each render from the no-LoRA render of the same prompt and seed (1 - their "
    "similarity). The image model sees overall look, not identity: a LoRA that copies the training "
    "images' backgrounds gains likeness too. These numbers are not part of the suggestion."
)
_TOKEN = re.compile(r"hf_[A-Za-z0-9]{8,}")
#: What an image that cannot be decoded raises (Pillow's decompression-bomb guard among them).
UNREADABLE = (OSError, ValueError, Image.DecompressionBombError)


class ImageEmbedder(Protocol):
    """Turns images into unit-length vectors; :class:`ClipEmbedder` is the one onelazy ships."""

    @property
    def name(self) -> str:
        """The model, as the page names it (and the embeddings cache is keyed by)."""
        ...

    @property
    def revision(self) -> str | None:
        """The version of its weights (a hub commit), so that new weights get a new cache."""
        ...

    def embed(self, images: Sequence[Path]) -> Embeddings:
        """One unit-length row per image, in order."""
        ...


@dataclass(frozen=True)
class ScoreProgress:
    """Images embedded so far, of those not embedded before."""

    done: int
    total: int


@dataclass(frozen=True)
class RowScore:
    """The image model's two numbers for one row of the comparison (see the module's docstring)."""

    label: str
    likeness: float | None
    """None: no training image could be read."""
    pull: float | None
    """None for the no-LoRA row (nothing to be pulled from)."""
    renders: int

    def lines(self) -> tuple[str, ...]:
        """The row's numbers as the grid and the page show them under its label."""
        shown = [f"likeness {self.likeness:.3f}" if self.likeness is not None else "likeness: none"]
        if self.pull is not None:
            shown.append(f"pull {self.pull:.3f}")
        return tuple(shown)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "likeness": self.likeness, "pull": self.pull, "renders": self.renders}


@dataclass(frozen=True)
class ImageScores:
    """What the image model says of every row, with how much it looked at."""

    model: str
    references: int
    """Training images embedded (the likeness is measured against them)."""
    rows: tuple[RowScore, ...]
    """One per row given, in the same order (the no-LoRA row first, then the checkpoints, as in
    the grid; two rows may share a label)."""
    embedded: int
    reused: int
    """Images whose embedding was kept from an earlier comparison."""
    unreadable: tuple[Path, ...] = ()
    missing: tuple[str, ...] = ()
    """Training concept folders (or the concepts file) that were not found."""

    def describe(self) -> list[str]:
        lines = [
            f"What {self.model} sees (against {self.references} training images; not part of the suggestion):"
        ]
        lines += [f"  {row.label}: {', '.join(row.lines())}" for row in self.rows]
        if not self.references:
            lines.append(
                "  no training image could be read from the run's concepts: the likeness is not measured"
            )
        if self.missing:
            lines.append(f"  not found, so not measured against: {', '.join(self.missing)}")
        if self.unreadable:
            lines.append(f"  {len(self.unreadable)} image(s) could not be read, first {self.unreadable[0]}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "references": self.references,
            "rows": [row.to_json() for row in self.rows],
        }


# =============================================================================== the model


def missing_packages() -> list[str]:
    """The packages the image score needs that are not installed (``onelazy[score]`` has them)."""
    return [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]


def _scrubbed(text: str) -> str:
    """The first line of a library's message, without anything shaped like a Hugging Face token."""
    first = (text.strip().splitlines() or [""])[0]
    return _TOKEN.sub("hf_***", first)[:300]


def check_model_name(name: str, *, key: str = "--image-score") -> str:
    """``name`` as the embedder loads it: a hub id (``owner/name``) as written, a local folder as an
    absolute path; a local folder that does not exist is the person's mistake (exit 2)."""
    if not name.strip():
        raise UsageError(f"{key}: give a model (a Hugging Face id such as {SUGGESTED_MODEL}, or a folder)")
    local = Path(name).expanduser()
    if local.is_dir():
        return str(local.resolve())
    if is_hub_id(name):
        return name
    what = "is a file, not a model folder" if local.exists() else "no such folder"
    raise UsageError(
        f"{key}: {name}: {what} (a local model folder, or a Hugging Face id such as {SUGGESTED_MODEL})"
    )


class ClipEmbedder:
    """A ``transformers`` image model (CLIP, SigLIP: anything with ``get_image_features``) on the
    GPU when there is one, else the CPU. Opening it loads the weights, so a wrong name or a missing
    package fails before anything is rendered."""

    def __init__(self, model: str, *, device: str | None = None, batch_size: int = BATCH_SIZE) -> None:
        self._name = check_model_name(model)
        missing = missing_packages()
        if missing:
            raise ImageScoreError(
                f"the image score needs {' and '.join(missing)}: pip install 'onelazy[score]', "
                "or turn the score off (--image-score none)"
            )
        self._batch_size = max(1, batch_size)
        import torch
        import transformers

        logging = transformers.utils.logging
        verbosity = logging.get_verbosity()
        # its load report and fallback notes are not the person's business; its progress bars (the
        # download on first use among them) stay
        logging.set_verbosity(logging.ERROR)
        try:
            self._processor = transformers.AutoImageProcessor.from_pretrained(self._name)
            self._model = transformers.AutoModel.from_pretrained(self._name)
        except Exception as exc:  # OSError, ValueError, the hub's own errors: all mean "cannot load"
            raise ImageScoreError(f"image score: cannot load {model!r}: {_scrubbed(str(exc))}") from None
        finally:
            logging.set_verbosity(verbosity)
        if not callable(getattr(self._model, "get_image_features", None)):
            raise ImageScoreError(
                f"image score: {model!r} is a {type(self._model).__name__}, which makes no image embeddings; "
                f"give an image-text model such as {SUGGESTED_MODEL}"
            )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._device = device
        self._on_device = False  # moved there when it first embeds: the backend renders first
        self._model.eval()
        self._torch = torch
        commit = getattr(self._model.config, "_commit_hash", None)
        self._revision = str(commit) if commit else None

    @property
    def name(self) -> str:
        return self._name

    @property
    def revision(self) -> str | None:
        return self._revision

    def embed(self, images: Sequence[Path]) -> Embeddings:
        import numpy as np

        torch = self._torch
        if not self._on_device:
            try:
                self._model.to(self._device)
            except RuntimeError as exc:  # out of memory, no such device
                raise ImageScoreError(
                    f"image score: cannot move {self._name} to {self._device}: {_scrubbed(str(exc))}"
                ) from None
            self._on_device = True
        rows: list[Embeddings] = []
        for start in range(0, len(images), self._batch_size):
            batch = []
            for path in images[start : start + self._batch_size]:
                with Image.open(path) as opened:
                    batch.append(opened.convert("RGB"))
            inputs = self._processor(images=batch, return_tensors="pt")
            try:
                with torch.inference_mode():
                    output: Any = self._model.get_image_features(
                        pixel_values=inputs["pixel_values"].to(self._device)
                    )
            except RuntimeError as exc:  # out of memory, a device error: the model's, not the image's
                raise ImageScoreError(
                    f"image score: {self._name} failed on {images[start]}: {_scrubbed(str(exc))}"
                ) from None
            # transformers 5 returns a model output whose pooled value is the projected embedding
            features = output if isinstance(output, torch.Tensor) else output.pooler_output
            rows.append(features.float().cpu().numpy().astype(np.float64))
        if not rows:
            return np.zeros((0, 0))
        found = np.concatenate(rows)
        norms = np.linalg.norm(found, axis=1, keepdims=True)
        return found / np.where(norms == 0, 1.0, norms)


def open_embedder(model: str | ImageEmbedder) -> ImageEmbedder:
    """An embedder for ``model``: a name is loaded (:class:`ClipEmbedder`), an embedder kept."""
    return ClipEmbedder(model) if isinstance(model, str) else model


# =============================================================================== the cache


def _cache_file(folder: Path, model: str, revision: str | None) -> Path:
    """One file per model and version of its weights (a hub commit; a local model folder's files),
    so new weights are not taken for the old ones."""
    key = f"{model}@{revision}" if revision else model
    local = Path(model)
    if local.is_dir():
        key += repr(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in local.iterdir()))
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", local.name or model).strip("-.")[:60] or "model"
    return folder / f"{tail}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"


def _read_cache(path: Path) -> dict[str, Embeddings]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as stored:
            return {key: np.asarray(stored[key], dtype=np.float64) for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # none yet, or damaged: embed again
        return {}


def _write_cache(path: Path, vectors: dict[str, Embeddings]) -> None:
    import numpy as np

    buffer = io.BytesIO()
    arrays: dict[str, Any] = dict(vectors)  # numpy's stub takes a ** of arrays for ``allow_pickle``
    np.savez(buffer, allow_pickle=False, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


# =============================================================================== the scores


def score_rows(
    rows: Sequence[tuple[str, Sequence[tuple[Path, Path | None]]]],
    references: Sequence[Path],
    embedder: ImageEmbedder,
    *,
    cache_dir: Path | None = None,
    on_progress: Callable[[ScoreProgress], None] | None = None,
    missing: Sequence[str] = (),
) -> ImageScores:
    """Score each row: ``(label, [(render, the no-LoRA render of its prompt and seed, or None)])``
    against the training images ``references`` (see the module's docstring for the two numbers).

    Every image is embedded once (by content), the ones already in ``cache_dir`` not at all.
    ``missing``: training folders the caller could not find, said with the scores.
    """
    import numpy as np

    files = list(dict.fromkeys([*references, *(p for _, pairs in rows for pair in pairs for p in pair if p)]))
    digests: dict[Path, str] = {}
    unreadable: list[Path] = []
    for path in files:
        try:
            digests[path] = sha256_file(path)
        except OSError:
            unreadable.append(path)
    cache_path = _cache_file(cache_dir, embedder.name, embedder.revision) if cache_dir is not None else None
    cached = _read_cache(cache_path) if cache_path is not None else {}
    vectors = {sha: cached[sha] for sha in set(digests.values()) if sha in cached}
    reused = len(vectors)
    first_of: dict[str, Path] = {}
    for path, sha in digests.items():
        if sha not in vectors:
            first_of.setdefault(sha, path)
    todo = list(first_of.items())
    if on_progress:
        on_progress(ScoreProgress(0, len(todo)))
    done = 0
    for start in range(0, len(todo), BATCH_SIZE):
        batch = todo[start : start + BATCH_SIZE]
        try:
            found = embedder.embed([path for _, path in batch])
        except UNREADABLE:  # one undecodable image: embed one by one to find it
            found = None
        if found is not None:
            vectors.update({sha: found[n] for n, (sha, _) in enumerate(batch)})
        else:
            for sha, path in batch:
                try:
                    vectors[sha] = embedder.embed([path])[0]
                except UNREADABLE:
                    unreadable.append(path)
        done += len(batch)
        if on_progress:
            on_progress(ScoreProgress(done, len(todo)))
    if cache_path is not None and len(vectors) > reused:
        _write_cache(cache_path, {**cached, **vectors})

    def vector(path: Path | None) -> Embeddings | None:
        sha = digests.get(path) if path is not None else None
        return vectors.get(sha) if sha is not None else None

    known = [v for path in references if (v := vector(path)) is not None]
    centroid = np.mean(known, axis=0) if known else None
    scored: list[RowScore] = []
    for label, pairs in rows:
        likeness: list[float] = []
        pull: list[float] = []
        seen = 0
        for render, baseline in pairs:
            here = vector(render)
            if here is None:
                continue
            seen += 1
            if centroid is not None:
                likeness.append(float(here @ centroid))
            there = vector(baseline)
            if there is not None:
                pull.append(1.0 - float(here @ there))
        scored.append(
            RowScore(
                label,
                float(np.mean(likeness)) if likeness else None,
                float(np.mean(pull)) if pull else None,
                seen,
            )
        )
    return ImageScores(
        model=embedder.name,
        references=len(known),
        rows=tuple(scored),
        embedded=len(vectors) - reused,
        reused=reused,
        unreadable=tuple(dict.fromkeys(unreadable)),
        missing=tuple(missing),
    )
