"""ris engine: index videos and photos by the faces in them, and search them by a face.

Importing this package is cheap: torch, decord and the models load only when work needs them.
The public facade is `engine.api` (`build_engine`, `Engine`).
"""

__version__ = "0.1.0"
