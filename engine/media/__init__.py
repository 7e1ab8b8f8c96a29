"""Media files: finding photos and videos, sampling their frames, and decoding them in worker
processes that hand the frames over through files in RAM."""
