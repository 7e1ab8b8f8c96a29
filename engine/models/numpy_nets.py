"""facenet-pytorch's four networks (MTCNN's P-, R- and O-Net, FaceNet's InceptionResnetV1) in
numpy, from the same weights, for reading a query photo without importing torch.

Layouts are channels-last (N, H, W, C); a convolution is one matrix product of its input's
patches with its weights (BLAS), batch norms are folded into the convolutions before them.
Results agree with torch's to float32 rounding (embeddings within 1e-6, tested against the
torch networks in `tests/test_numpy_faces.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BN_EPS = 0.001  # InceptionResnetV1's batch norms (TensorFlow's value)


class Conv:
    """A 2-D convolution (torch's OIHW weights) with its bias, stride and zero padding."""

    def __init__(
        self,
        weight: np.ndarray,
        bias: np.ndarray | None,
        stride: int = 1,
        pad: tuple[int, int] = (0, 0),
    ) -> None:
        out, cin, kh, kw = weight.shape
        self.kernel = (kh, kw)
        self.stride = stride
        self.pad = pad
        # rows in the patch order (kh, kw, C) that `_patches` produces
        self.matrix = np.ascontiguousarray(
            np.asarray(weight, np.float32).transpose(2, 3, 1, 0).reshape(kh * kw * cin, out)
        )
        self.bias = np.zeros(out, np.float32) if bias is None else np.asarray(bias, np.float32)

    @classmethod
    def with_batch_norm(
        cls, state: Mapping[str, np.ndarray], prefix: str, stride: int = 1, pad=(0, 0)
    ) -> Conv:
        """A bias-free convolution followed by an eval-mode batch norm, as one convolution."""
        bn = f"{prefix}.bn."
        scale = state[bn + "weight"] / np.sqrt(state[bn + "running_var"] + BN_EPS)
        weight = state[f"{prefix}.conv.weight"] * scale[:, None, None, None]
        bias = state[bn + "bias"] - state[bn + "running_mean"] * scale
        return cls(weight, bias, stride, pad)

    @classmethod
    def side_by_side(cls, convs: list[Conv]) -> Conv:
        """1x1 convolutions of the same input as one, their outputs side by side (one matrix
        product instead of several small ones)."""
        assert all(c.kernel == (1, 1) and c.stride == 1 and c.pad == (0, 0) for c in convs)
        merged = cls.__new__(cls)
        merged.kernel, merged.stride, merged.pad = (1, 1), 1, (0, 0)
        merged.matrix = np.ascontiguousarray(np.concatenate([c.matrix for c in convs], axis=1))
        merged.bias = np.concatenate([c.bias for c in convs])
        return merged

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        ph, pw = self.pad
        if ph or pw:
            x = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        kh, kw = self.kernel
        if (kh, kw) == (1, 1) and self.stride == 1:
            h, w = x.shape[1:3]
            cols = x.reshape(-1, x.shape[3])
        else:
            view = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
            view = view[:, :: self.stride, :: self.stride]
            h, w = view.shape[1:3]
            cols = view.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, -1)
        out = cols @ self.matrix
        out += self.bias
        return out.reshape(n, h, w, -1)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """x where positive, slope * x elsewhere (exactly: one of the two terms is 0)."""
    negative = np.minimum(x, 0)
    negative *= slope
    out = np.maximum(x, 0)
    out += negative
    return out


def max_pool(x: np.ndarray, size: int, stride: int, ceil: bool = False) -> np.ndarray:
    """torch's MaxPool2d without padding; `ceil`: its ceil_mode, where a last window that
    starts inside the input may run past its end. Rows first, then columns: a few maxima of
    strided views, not a reduction over every window."""
    h, w = x.shape[1:3]

    def out(n: int) -> int:
        if not ceil:
            return (n - size) // stride + 1
        o = -(-(n - size) // stride) + 1
        return o - 1 if (o - 1) * stride >= n else o

    oh, ow = out(h), out(w)
    need_h, need_w = (oh - 1) * stride + size, (ow - 1) * stride + size
    if need_h > h or need_w > w:
        x = np.pad(
            x, ((0, 0), (0, max(0, need_h - h)), (0, max(0, need_w - w)), (0, 0)),
            constant_values=-np.inf,
        )  # fmt: skip
    span_h, span_w = (oh - 1) * stride + 1, (ow - 1) * stride + 1
    rows = x[:, :span_h:stride]
    for k in range(1, size):
        rows = np.maximum(rows, x[:, k : k + span_h : stride])
    out_ = rows[:, :, :span_w:stride]
    for k in range(1, size):
        out_ = np.maximum(out_, rows[:, :, k : k + span_w : stride])
    return out_


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _flat_as_torch(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) flattened as facenet-pytorch flattens its (N, C, H, W) after
    `permute(0, 3, 2, 1)`: in (W, H, C) order."""
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3)).reshape(len(x), -1)


class _Dense:
    def __init__(self, state: Mapping[str, np.ndarray], name: str) -> None:
        self.matrix = np.ascontiguousarray(np.asarray(state[name + ".weight"], np.float32).T)
        self.bias = np.asarray(state[name + ".bias"], np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.matrix + self.bias


def _conv(state: Mapping[str, np.ndarray], name: str) -> Conv:
    return Conv(state[name + ".weight"], state[name + ".bias"])


class PNet:
    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        self.convs = [_conv(state, f"conv{i}") for i in (1, 2, 3)]
        self.slopes = [np.asarray(state[f"prelu{i}.weight"], np.float32) for i in (1, 2, 3)]
        self.prob = _conv(state, "conv4_1")
        self.reg = _conv(state, "conv4_2")

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Box offsets (N, H', W', 4) and face probabilities (N, H', W') of each 12 px cell."""
        x = prelu(self.convs[0](x), self.slopes[0])
        x = max_pool(x, 2, 2, ceil=True)
        x = prelu(self.convs[1](x), self.slopes[1])
        x = prelu(self.convs[2](x), self.slopes[2])
        return self.reg(x), softmax(self.prob(x))[..., 1]


class _CropNet:
    """R-Net and O-Net: PReLU convolutions (some max-pooled), a dense layer, then the face
    probability and box offsets of each (N, size, size, 3) crop."""

    def __init__(
        self, state: Mapping[str, np.ndarray], pools: list[tuple[int, int] | None], dense: int
    ) -> None:
        self.convs = [_conv(state, f"conv{i}") for i in range(1, len(pools) + 1)]
        self.slopes = [
            np.asarray(state[f"prelu{i}.weight"], np.float32) for i in range(1, len(pools) + 2)
        ]
        self.pools = pools
        self.dense = _Dense(state, f"dense{dense}")
        self.prob = _Dense(state, f"dense{dense + 1}_1")
        self.reg = _Dense(state, f"dense{dense + 1}_2")

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Box offsets (N, 4) and face probabilities (N,)."""
        for conv, slope, pool in zip(self.convs, self.slopes[:-1], self.pools, strict=True):
            x = prelu(conv(x), slope)
            if pool is not None:
                x = max_pool(x, *pool, ceil=True)
        x = prelu(self.dense(_flat_as_torch(x)), self.slopes[-1])
        return self.reg(x), softmax(self.prob(x))[:, 1]


class RNet(_CropNet):
    """MTCNN's second stage, on 24 px crops."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        super().__init__(state, [(3, 2), (3, 2), None], dense=4)


class ONet(_CropNet):
    """MTCNN's third stage, on 48 px crops."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        super().__init__(state, [(3, 2), (3, 2), (2, 2), None], dense=5)


class InceptionResnetV1:
    """FaceNet's embedder: (N, 160, 160, 3) standardised crops to (N, 512) unit vectors."""

    def __init__(self, state: Mapping[str, np.ndarray]) -> None:
        s = state

        def bn(name: str, stride: int = 1, pad=(0, 0)) -> Conv:
            return Conv.with_batch_norm(s, name, stride, pad)

        def residual(p: str, *branches: list[Conv]) -> tuple[_Branches, Conv]:
            return _Branches(list(branches)), _conv(s, f"{p}.conv2d")

        def factorised(p: str, k: int) -> tuple[_Branches, Conv]:
            """Block17 (k = 7) and Block8 (k = 3): a 1x1 branch beside a 1xk then kx1 one."""
            return residual(p, [bn(f"{p}.branch0")], [bn(f"{p}.branch1.0"),
                            bn(f"{p}.branch1.1", pad=(0, k // 2)),
                            bn(f"{p}.branch1.2", pad=(k // 2, 0))])  # fmt: skip

        self.stem = [
            bn("conv2d_1a", 2),
            bn("conv2d_2a"),
            bn("conv2d_2b", pad=(1, 1)),
            None,
            bn("conv2d_3b"),
            bn("conv2d_4a"),
            bn("conv2d_4b", 2),
        ]  # fmt: skip  (None: max pool)
        self.block35 = [
            residual(
                p,
                [bn(f"{p}.branch0")],
                [bn(f"{p}.branch1.0"), bn(f"{p}.branch1.1", pad=(1, 1))],
                [
                    bn(f"{p}.branch2.0"),
                    bn(f"{p}.branch2.1", pad=(1, 1)),
                    bn(f"{p}.branch2.2", pad=(1, 1)),
                ],
            )  # fmt: skip
            for p in (f"repeat_1.{i}" for i in range(5))
        ]
        self.mixed_6a = (
            [bn("mixed_6a.branch0", 2)],
            [bn("mixed_6a.branch1.0"), bn("mixed_6a.branch1.1", pad=(1, 1)),
             bn("mixed_6a.branch1.2", 2)],
        )  # fmt: skip
        self.block17 = [factorised(f"repeat_2.{i}", 7) for i in range(10)]
        self.mixed_7a = _Branches([
            [bn("mixed_7a.branch0.0"), bn("mixed_7a.branch0.1", 2)],
            [bn("mixed_7a.branch1.0"), bn("mixed_7a.branch1.1", 2)],
            [bn("mixed_7a.branch2.0"), bn("mixed_7a.branch2.1", pad=(1, 1)),
             bn("mixed_7a.branch2.2", 2)],
        ])  # fmt: skip
        self.block8 = [factorised(p, 3) for p in [f"repeat_3.{i}" for i in range(5)] + ["block8"]]
        self.linear = np.ascontiguousarray(np.asarray(s["last_linear.weight"], np.float32).T)
        g, b = s["last_bn.weight"], s["last_bn.bias"]
        mean, var = s["last_bn.running_mean"], s["last_bn.running_var"]
        self.bn_scale = np.asarray(g / np.sqrt(var + BN_EPS), np.float32)
        self.bn_shift = np.asarray(b - mean * self.bn_scale, np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for conv in self.stem:
            x = max_pool(x, 3, 2) if conv is None else relu(conv(x))
        for branches, up in self.block35:
            x = _residual(x, branches, up, 0.17)
        x = np.concatenate([_chain(x, b) for b in self.mixed_6a] + [max_pool(x, 3, 2)], axis=-1)
        for branches, up in self.block17:
            x = _residual(x, branches, up, 0.10)
        x = np.concatenate(self.mixed_7a(x) + [max_pool(x, 3, 2)], axis=-1)
        last = len(self.block8) - 1
        for i, (branches, up) in enumerate(self.block8):
            x = _residual(x, branches, up, 0.20 if i < last else 1.0, last=i == last)
        x = x.mean(axis=(1, 2)) @ self.linear
        x = x * self.bn_scale + self.bn_shift
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _chain(x: np.ndarray, convs: list[Conv]) -> np.ndarray:
    for conv in convs:
        x = relu(conv(x))
    return x


class _Branches:
    """Branches of an Inception block that each begin with a 1x1 convolution of the block's
    input: those first convolutions run as one."""

    def __init__(self, branches: list[list[Conv]]) -> None:
        self.first = Conv.side_by_side([b[0] for b in branches])
        self.cuts = np.cumsum([b[0].matrix.shape[1] for b in branches])[:-1].tolist()
        self.rest = [b[1:] for b in branches]

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        starts = np.split(relu(self.first(x)), self.cuts, axis=-1)
        return [_chain(start, rest) for start, rest in zip(starts, self.rest, strict=True)]


def _residual(
    x: np.ndarray, branches: _Branches, up: Conv, scale: float, last: bool = False
) -> np.ndarray:
    """An Inception-ResNet block: branches side by side, projected back, added to the input
    at `scale`, then ReLU (except FaceNet's very last block)."""
    out = up(np.concatenate(branches(x), axis=-1)) * scale + x
    return out if last else relu(out)
