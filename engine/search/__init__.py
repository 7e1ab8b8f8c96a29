"""A search: reading the query photo or clip, matching its appearances against the library, ranking
videos, segments and photos, thumbnails of the results, and `ris faces`."""
