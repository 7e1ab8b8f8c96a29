"""The front ends that drive the engine through `engine.api`: the `ris` command line, its progress
bars, and the resident engine (`ris serve`). Nothing below imports them."""
