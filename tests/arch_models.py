"""Small models the architecture tests make and export: a ViT-like classifier (patches, a CLS
token, a ModuleList of encoder blocks), a ResNet-like one (BatchNorm, skip connections) and a
token classifier (embedding → encoder blocks → head) taking ``input_ids`` and ``attention_mask``.

Random weights are enough to check numbers; each is exported to every format by :func:`export_all`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class Block(nn.Module):
    """A pre-norm encoder block: attention (one matmul per head group, masked) then an MLP."""

    def __init__(self, dim: int = 32, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

    def forward(self, x, bias: torch.Tensor | None = None):
        n, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5
        if bias is not None:
            att = att + bias
        x = x + self.proj((att.softmax(-1) @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    def __init__(self, size: int = 16, patch: int = 4, dim: int = 32, depth: int = 4, n_classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


class Basic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.down = (
            None
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + (x if self.down is None else self.down(x)))


class TinyResNet(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.layer1 = nn.Sequential(Basic(8, 8), Basic(8, 8))
        self.layer2 = nn.Sequential(Basic(8, 16, 2), Basic(16, 16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, n_classes)

    def forward(self, x):
        return self.fc(self.pool(self.layer2(self.layer1(self.stem(x)))).flatten(1))


class TokenClassifier(nn.Module):
    """Token ids (N×T, 0 = padding) and a Hugging Face style mask (1 = a real token) → class logits."""

    def __init__(self, vocab: int = 50, length: int = 12, dim: int = 32, depth: int = 2, n_classes: int = 3):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.randn(1, length, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, input_ids, attention_mask):
        x = self.embed(input_ids) + self.pos
        bias = (1.0 - attention_mask[:, None, None, :].float()) * -1e4
        for block in self.blocks:
            x = block(x, bias)
        m = attention_mask.float().unsqueeze(-1)
        return self.head((self.norm(x) * m).sum(1) / m.sum(1))


def make(kind: str) -> nn.Module:
    torch.manual_seed({"vit": 0, "resnet": 1, "text": 2}[kind])
    model = {"vit": TinyViT, "resnet": TinyResNet, "text": TokenClassifier}[kind]()
    if kind == "resnet":  # BatchNorm statistics that are not the identity
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def example(kind: str, n: int = 2):
    if kind == "text":
        ids = torch.randint(1, 50, (n, 12))
        mask = torch.ones(n, 12, dtype=torch.int64)
        mask[0, 8:] = 0
        return (ids * mask, mask)
    return (torch.rand(n, 1, 16, 16),)


def export_all(model: nn.Module, kind: str, folder: Path, name: str, formats=("onnx", "onnx2", "pt2", "ts")) -> dict:
    """``model`` as ONNX (TorchScript exporter ``onnx``, dynamo exporter ``onnx2``), .pt2 and .ts."""
    folder.mkdir(parents=True, exist_ok=True)
    args = example(kind)
    names = ["input_ids", "attention_mask"] if kind == "text" else ["x"]
    files = {}
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic = {k: {0: batch} for k in names}
    if "onnx" in formats:
        files["onnx"] = f"{name}.onnx"
        torch.onnx.export(
            model,
            args,
            str(folder / files["onnx"]),
            input_names=names,
            output_names=["y"],
            dynamic_axes={**{k: {0: "b"} for k in names}, "y": {0: "b"}},
            dynamo=False,
        )
    if "onnx2" in formats:
        files["onnx2"] = f"{name}.dynamo.onnx"
        torch.onnx.export(
            model,
            args,
            str(folder / files["onnx2"]),
            input_names=names,
            output_names=["y"],
            dynamic_shapes=dynamic,
            dynamo=True,
            verbose=False,
        )
    if "pt2" in formats:
        files["pt2"] = f"{name}.pt2"
        torch.export.save(torch.export.export(model, args, dynamic_shapes=dynamic), str(folder / files["pt2"]))
    if "ts" in formats:
        files["ts"] = f"{name}.ts"
        torch.jit.trace(model, args).save(str(folder / files["ts"])) if kind == "text" else torch.jit.script(
            model
        ).save(str(folder / files["ts"]))
    return files


def make_vit() -> nn.Module:
    """Factories the tests name as ``tests.arch_models:make_vit`` (the live-module format)."""
    return make("vit")


def make_resnet() -> nn.Module:
    return make("resnet")


def make_text() -> nn.Module:
    return make("text")
