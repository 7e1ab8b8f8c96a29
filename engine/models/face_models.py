"""The face models, cheap to construct and loaded on first use under a lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.models.weights import Weights
from engine.settings import usable_cores
from engine.stage_clock import StageClock
from engine.vocabulary import FaceUpscale

if TYPE_CHECKING:
    import torch

    from engine.models.detection import FaceDetector
    from engine.models.embedding import FaceEmbedder
    from engine.models.face_boxes import Detection
    from engine.models.numpy_faces import NumpyFaces


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        if not nvidia_driver():
            return torch.device("cpu")
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from engine.errors import UserError

        raise UserError(
            f"--device {name} asked for, but no CUDA GPU is available", "use --device cpu"
        )
    return device


def resolve_device(name: str) -> str:
    """The device `name` means here, as a name ("auto" becomes "cpu" or "cuda"): without
    importing torch where no NVIDIA driver is loaded. A CUDA device that is not there is a
    UserError."""
    if on_cpu(name):
        return "cpu"
    return str(pick_device(name))


def nvidia_driver() -> bool:
    """Whether an NVIDIA driver is loaded: without one, CUDA cannot be available, and `auto`
    is the CPU without asking torch (importing it takes a second or more)."""
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def on_cpu(name: str) -> bool:
    """Whether the device named `name` is the CPU, known without importing torch."""
    return name == "cpu" or (name == "auto" and not nvidia_driver())


def batch_sizes(device: torch.device) -> tuple[int, int]:
    """Frames per detection batch and faces per embedding batch for a device. A GPU wants
    large batches (each step's launch costs more than its work on small ones), up to what
    its memory holds: a 720p frame takes about 40 MB through the detector; on the CPU, larger
    batches only add memory."""
    if device.type != "cuda":
        return 16, 64
    import torch

    free, _ = torch.cuda.mem_get_info(device)
    return int(max(16, min(128, free // (4 * 40 * 2**20)))), 512


class FaceModels:
    """Detector and embedder for one weights choice; nothing loads until `faces()` is called."""

    def __init__(
        self,
        weights: Weights,
        device: str = "auto",
        min_face_size: int = 20,
        min_face_prob: float = 0.9,
        face_batch: int = 0,
        margin: int = 0,
        notify: Callable[[str], None] = lambda text: None,
        frame_batch: int = 0,
        detect_threads: int = 0,
        upscale: FaceUpscale = FaceUpscale.BILINEAR,
    ) -> None:
        self.weights = weights
        self._notify = notify  # told of slow first-time work (a weights download)
        self._device_name = device
        self._gates = (min_face_size, min_face_prob)
        self._batches = (frame_batch, face_batch)  # 0: chosen for the device
        self._threads = detect_threads  # 0: chosen for the device
        self._margin = margin
        self.upscale = FaceUpscale(upscale)  # how small face crops are enlarged (per library)
        self._lock = threading.Lock()
        self._local = threading.local()  # per thread: its CUDA stream
        self._detector: FaceDetector | None = None
        self._embedder: FaceEmbedder | None = None
        self._numpy: NumpyFaces | None = None
        self._numpy_decided = False  # whether queries use numpy is known (see _numpy_faces)

    @property
    def min_face_size(self) -> int:
        return self._gates[0]

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def load(self) -> tuple[FaceDetector, FaceEmbedder]:
        with self._lock:
            if self._detector is None or self._embedder is None:
                from engine.models.detection import FaceDetector
                from engine.models.embedding import FaceEmbedder

                device = pick_device(self._device_name)
                faces = self._batches[1] or batch_sizes(device)[1]
                self._embedder = FaceEmbedder(self.weights, device, faces, self._notify)
                self._detector = FaceDetector(
                    device, *self._gates, margin=self._margin, upscale=self.upscale
                )
            return self._detector, self._embedder

    def query_faces(
        self,
        frames: np.ndarray,
        scale: float | np.ndarray = 1.0,
        clock: StageClock | None = None,
    ) -> tuple[list[Detection], np.ndarray]:
        """A query's faces (a photo, a clip's frames), as `faces` gives them. On the CPU they
        are found and embedded in numpy (the same networks, weights and steps; see
        `numpy_faces`), so a search from a cold start does not import torch; always so on the
        CPU, so an answer is the same whether a cold command, `ris serve` or ris-tui gave it."""
        numpy_faces = self._numpy_faces()
        if numpy_faces is None:
            return self.faces(frames, scale, clock)
        clock = clock or StageClock()
        with clock.busy_in("detect"):
            return numpy_faces.faces(frames, scale)

    @property
    def query_batch(self) -> int:
        """Frames of a query clip detected at a time: few, so that a cancelled query waits for
        at most one small batch (4 on the CPU)."""
        if self._numpy_faces() is not None:
            return 4
        return max(1, self.frame_batch // 4)

    def load_photo_models(self) -> None:
        """Load what `query_faces` uses now rather than at the first query."""
        self._numpy_faces()

    def _numpy_faces(self) -> NumpyFaces | None:
        """The numpy models, loaded on first use; None where queries go through torch: on a
        GPU, with weights facenet-pytorch downloads, or weights numpy cannot read (torch then
        reads them, or says why it cannot). Decided once: a query's every batch asks."""
        if not self._numpy_decided:
            with self._lock:
                if not self._numpy_decided:
                    self._numpy = self._load_numpy_faces()
                    self._numpy_decided = True
        return self._numpy

    def _load_numpy_faces(self) -> NumpyFaces | None:
        if self.weights.path is None or not on_cpu(self._device_name):
            return None
        from engine.models.numpy_faces import NumpyFaces
        from engine.models.torch_files import WeightsFileError

        try:
            return NumpyFaces(self.weights.path, *self._gates, self._margin, self.upscale)
        except (WeightsFileError, OSError, KeyError, ValueError):
            return None

    @property
    def frame_batch(self) -> int:
        """Frames the detector takes at a time."""
        detector, _ = self.load()
        return self._batches[0] or batch_sizes(detector.device)[0]

    @property
    def device(self) -> str:
        detector, _ = self.load()
        return str(detector.device)

    def faces(
        self,
        frames: np.ndarray,
        scale: float | np.ndarray = 1.0,
        clock: StageClock | None = None,
    ) -> tuple[list[Detection], np.ndarray]:
        """Every face that passes the gates in a batch of frames, and its unit embedding;
        `scale` maps each frame's pixels to its file's (one, or one per frame)."""
        detector, embedder = self.load()
        clock = clock or StageClock()
        with self._stream():
            with clock.busy_in("detect"):
                found, crops = detector.find(frames, scale)
            with clock.busy_in("embed"):
                return found, embedder.embed(crops)

    @property
    def detect_threads(self) -> int:
        """Threads detecting at once: on a GPU two, each with a CUDA stream of its own, so one
        batch's host work (its Python, its waits for a box count) overlaps the other's kernels
        (H200: 255 -> 433 frames/s with the decoding changes). On the CPU the models' own
        threads use the cores; two batches at once still help from 8 cores (16 cores: 35.8 ->
        43.6 frames/s; three or four: no better), not on fewer."""
        detector, _ = self.load()
        if self._threads:
            return self._threads
        if detector.device.type == "cuda":
            return 2
        return 2 if usable_cores() >= 8 else 1

    def _stream(self) -> AbstractContextManager[object]:
        """This thread's CUDA stream (created on first use), or nothing on the CPU."""
        detector, _ = self.load()
        if detector.device.type != "cuda":
            return nullcontext()
        import torch

        stream = getattr(self._local, "stream", None)
        if stream is None:
            stream = self._local.stream = torch.cuda.Stream(detector.device)
        return torch.cuda.stream(stream)
