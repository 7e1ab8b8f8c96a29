"""The engine as it was before an improvement, for the before/after rows of `ris eval`.

Per-frame decisions: every sampled face at or above the threshold is a match, and a video is
as good as its best frame. Since issue 2, ris decides per track instead (engine/matching.py).

Possible matches only down to the margin: where nothing matches, ris listed no file whose best
appearance fell below `threshold - possible_margin`. Since 2026-11-26 it lists the closest files
then, down to similarity 0 (`matching.CLOSEST_FLOOR`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.api import Engine
from engine.results import QueryInfo, SearchResult
from engine.search.matching import match_appearances
from engine.search.query import Query
from engine.search.ranking import Matches


def search_per_frame(engine: Engine, query: Query, top: int) -> SearchResult:
    thr = engine.settings.match_threshold
    parts = engine.internals
    keys, sims = parts.store.search(query.templates[0], thr)
    faces = parts.catalog.faces(keys)
    sim_of = dict(zip(keys.tolist(), sims.tolist(), strict=True))
    face_sims = np.asarray([sim_of[k] for k in faces.ids.tolist()], dtype=np.float64)
    quality: dict[int, float] = {}
    for fid, s in zip(faces.file_ids.tolist(), face_sims.tolist(), strict=True):
        quality[fid] = max(quality.get(fid, 0.0), s)
    found = Matches(faces.file_ids, faces.times, faces.boxes, np.clip(face_sims, 0, 1), quality)
    return parts.rank(found, QueryInfo(query.path, query.kind, query.faces, 1), thr, top)


def search_within_margin(engine: Engine, query: Query, top: int) -> SearchResult:
    thr = engine.settings.match_threshold
    parts = engine.internals
    floor = engine.settings.possible_floor(thr)
    found = match_appearances(
        query.templates[0], parts.catalog, parts.store, thr, floor, top, closest=False
    )
    result = parts.rank(found, QueryInfo(query.path, query.kind, query.faces, 1), thr, top)
    return replace(result, possible=floor)
