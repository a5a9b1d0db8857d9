"""The peer's model and preprocessing: the same model.onnx as a torch module, the service's image contract.

A yardstick, not a product (see bench/README.md). The contract (sizes, resize mode, scale/mean/std, channel
order, layout, labels) is NOT read from model.json here: the bench resolves it with the service's own
metadata code (defaults filled) and passes it as JSON, so both servers use one definition.
"""

import io
import math
import os
import warnings

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from PIL import Image, ImageCms, ImageOps

Image.MAX_IMAGE_PIXELS = None  # the contract's own limit is checked from the header below
SRGB = ImageCms.createProfile("sRGB")


def _pair(values, name):
    if len(values) != 2:
        raise ValueError(f"{name} {values}: only 2-D operators are supported")
    return tuple(values)


def _symmetric_pads(pads):
    """ONNX pads are [top, left, bottom, right]; torch takes one (h, w) pair for both sides."""
    pads = list(pads or [0, 0, 0, 0])
    if pads[:2] != pads[2:]:
        raise ValueError(f"asymmetric pads {pads} are not supported")
    return (pads[0], pads[1])


def _conv(x, w, b, a):
    return F.conv2d(x, w, b, stride=a["strides"], padding=a["pads"], dilation=a["dilations"], groups=a["group"])


def _gemm(x, w, c, a):
    x = x.t() if a["transA"] else x
    w = w.t() if a["transB"] else w
    return torch.addmm(c, x, w, beta=a["beta"], alpha=a["alpha"]) if c is not None else a["alpha"] * (x @ w)


def _flatten(x, a):
    axis = a["axis"] % x.dim() if x.dim() else 0
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _clip(args, a):
    lo = args[1] if len(args) > 1 and args[1] is not None else a.get("min")
    hi = args[2] if len(args) > 2 and args[2] is not None else a.get("max")
    return torch.clamp(args[0], min=None if lo is None else float(lo), max=None if hi is None else float(hi))


def _attributes(node):
    """The node's attributes with ONNX's defaults filled in, in the form the op functions take."""
    a = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError(f"{node.op_type} '{node.name}': auto_pad is not supported")
    if node.op_type in ("Conv", "MaxPool"):
        a["strides"] = _pair(a.get("strides", [1, 1]), "strides")
        a["pads"] = _symmetric_pads(a.get("pads"))
        a["dilations"] = _pair(a.get("dilations", [1, 1]), "dilations")
    if node.op_type == "Conv":
        a["group"] = a.get("group", 1)
    if node.op_type == "MaxPool":
        a["kernel_shape"] = _pair(a["kernel_shape"], "kernel_shape")
        a["ceil_mode"] = bool(a.get("ceil_mode", 0))
    if node.op_type == "Gemm":
        a = {"alpha": a.get("alpha", 1.0), "beta": a.get("beta", 1.0), "transA": a.get("transA", 0), "transB": a.get("transB", 0)}
    if node.op_type == "Flatten":
        a["axis"] = a.get("axis", 1)
    return a


# ONNX operator -> torch, for the operators the project's models use (onnx-builder.ts).
OPS = {
    "Conv": lambda args, a: _conv(args[0], args[1], args[2] if len(args) > 2 else None, a),
    "Relu": lambda args, a: F.relu(args[0]),
    "Clip": _clip,
    "Add": lambda args, a: args[0] + args[1],
    "MaxPool": lambda args, a: F.max_pool2d(
        args[0], a["kernel_shape"], a["strides"], a["pads"], a["dilations"], ceil_mode=a["ceil_mode"]
    ),
    "GlobalAveragePool": lambda args, a: args[0].mean(dim=(2, 3), keepdim=True),
    "Flatten": lambda args, a: _flatten(args[0], a),
    "Gemm": lambda args, a: _gemm(args[0], args[1], args[2] if len(args) > 2 else None, a),
}


class OnnxModule(torch.nn.Module):
    """model.onnx as a torch module: every initializer becomes a buffer, forward() runs the nodes in graph order."""

    def __init__(self, path):
        super().__init__()
        graph = onnx.load(path).graph
        self._buffer_of = {}
        for i, init in enumerate(graph.initializer):
            self.register_buffer(f"init{i}", torch.from_numpy(numpy_helper.to_array(init).copy()))
            self._buffer_of[init.name] = f"init{i}"
        unsupported = sorted({n.op_type for n in graph.node} - OPS.keys())
        if unsupported:
            raise ValueError(f"{path}: operators {unsupported} have no torch mapping in bench/peer/model.py")
        self._nodes = [(n.op_type, list(n.input), n.output[0], _attributes(n)) for n in graph.node]
        inputs = [i.name for i in graph.input if i.name not in self._buffer_of]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ValueError(f"{path}: expected one input and one output, got {inputs} and {len(graph.output)}")
        self.input_name = inputs[0]
        self.output_name = graph.output[0].name

    def forward(self, x):
        values = {self.input_name: x}
        for op, inputs, output, attrs in self._nodes:
            args = [None if not name else values[name] if name in values else getattr(self, self._buffer_of[name]) for name in inputs]
            values[output] = OPS[op](args, attrs)
        return values[self.output_name]


def load_model(model_dir, contract):
    """The OnnxModule of model_dir/model.onnx as one serves a torch model: traced for batch 1, frozen and
    optimised for inference (constants folded, oneDNN convolutions; without it torch 1.13 runs 1x1
    convolutions at one thread through its slow reference path, ~14x slower on the MobileNet-class model).
    """
    module = OnnxModule(os.path.join(model_dir, "model.onnx")).eval()
    h, w = contract["height"], contract["width"]
    example = torch.zeros([1, 3, h, w] if contract["layout"] == "NCHW" else [1, h, w, 3])
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # Flatten and Clip bounds are fixed for batch 1
        return torch.jit.optimize_for_inference(torch.jit.trace(module, example))


class BadImage(Exception):
    """An image the contract refuses: HTTP status, error code and message, as the service answers."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _sniff(data):
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# The contract's interpolation names (the service's model format) -> Pillow's filters.
FILTERS = {
    "nearest": Image.NEAREST,
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "lanczos3": Image.LANCZOS,
}


def preprocess(data, c):
    """Image bytes -> the model's input tensor [1, ...], as service/src/preprocess.ts does it.

    Magic-byte check, pixel limit from the header, EXIF orientation, alpha flattened onto the background,
    embedded ICC profile to sRGB, resize (squash, or shorter side + centre crop; the contract's interpolation,
    JPEGs shrunk while decoding as libvips does), value * scale, (value - mean) / std per channel.
    """
    if not data:
        raise BadImage(400, "image_empty", "the image is empty (0 bytes)")
    fmt = _sniff(data)
    if fmt is None:
        raise BadImage(400, "image_undecodable", "the body is not a JPEG, PNG or WebP image (unrecognised first bytes)")
    try:
        img = Image.open(io.BytesIO(data))
    except Exception as err:
        raise BadImage(400, "image_undecodable", f"cannot read the {fmt} header: {err}") from err
    w, h = img.size
    if w * h > c["maxPixels"]:
        raise BadImage(422, "image_too_large", f"the image is {w}x{h} = {w * h} pixels; at most {c['maxPixels']} are accepted")
    try:
        rotated = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        ow, oh = (h, w) if rotated else (w, h)
        out_w, out_h = c["width"], c["height"]
        if c["resize"] == "squash":
            rw, rh = out_w, out_h
        else:
            factor = c["shorterSide"] / min(ow, oh)
            rw, rh = max(out_w, round(ow * factor)), max(out_h, round(oh * factor))
        img.draft("RGB", (rh, rw) if rotated else (rw, rh))  # JPEG only: DCT scaling, never below the size asked
        img = ImageOps.exif_transpose(img)
        if "A" in img.getbands() or "transparency" in img.info:
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, tuple(c["background"]) + (255,)), rgba)
        icc = img.info.get("icc_profile")
        img = img.convert("RGB")
        if icc:
            img = ImageCms.profileToProfile(img, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode="RGB")
        img = img.resize((rw, rh), FILTERS[c["interpolation"]])
        if (rw, rh) != (out_w, out_h):
            left, top = (rw - out_w) // 2, (rh - out_h) // 2
            img = img.crop((left, top, left + out_w, top + out_h))
        pixels = np.asarray(img, dtype=np.float32)
    except Exception as err:
        raise BadImage(400, "image_undecodable", f"cannot decode the {fmt} image: {err}") from err
    if c["channelOrder"] == "BGR":
        pixels = pixels[:, :, ::-1]
    values = (pixels * np.float32(c["scale"]) - np.asarray(c["mean"], np.float32)) / np.asarray(c["std"], np.float32)
    if c["layout"] == "NCHW":
        values = values.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))[None]


def scores(output, c, top_k):
    """One image's output -> {label, score, topK}: softmax for logits, the k best, as the service answers."""
    probs = torch.softmax(output.double(), 0) if c["outputKind"] == "logits" else output.double()
    best = torch.topk(probs, top_k)
    top = [{"label": c["labels"][i], "score": float(s)} for s, i in zip(best.values.tolist(), best.indices.tolist())]
    return {"label": top[0]["label"], "score": top[0]["score"], "topK": top}
