"""The library: the catalog (every file and face, the source of truth), the vector stores beside
it, the one-writer lock, the private files, and checking and repairing them."""
