"""Manual review: a local page to go through the kept images one at a time and reject by hand.

Rejects go to ``.rejected/manual/`` and into ``cull-report.json`` the moment a key is pressed, through
the same functions ``onelazy cull`` uses, so ``onelazy cull --undo`` puts them back too.
"""

from __future__ import annotations

from onelazy.review._server import ReviewServer, ReviewSession, review

__all__ = ["ReviewServer", "ReviewSession", "review"]
