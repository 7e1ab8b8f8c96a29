"""The vector stores: the searchable copy of the catalog's face vectors, on one of two backends.

- `base`: the contract every store keeps, and the only code that moves the catalog version a
  store says it matches (`reconcile`, `apply_change`, `adopt`).
- `usearch`: an HNSW index in a file of the data directory (the default).
- `milvus`: Milvus Lite in this process, or a Milvus server.
- `choice`: which store a library uses; the only module that imports both backends.
- `copying`: copying a library's vectors from one store into another, verified.
"""
