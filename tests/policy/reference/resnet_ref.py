#!/usr/bin/python3
"""Independent reference for nfp's ResNet18-GroupNorm trunk.

usage: resnet_ref.py IN.safetensors PREFIX OUT.safetensors

IN holds the trunk's tensors named as nfp registers them ("<PREFIX>conv1.weight", ...,
torchvision's state_dict names after the prefix) and "image" [N, H, W, 3] with the raw
0..255 pixel values. The script builds torchvision's resnet18 with every BatchNorm a
GroupNorm(C // 16, C) (as Diffusion Policy), loads the tensors BY NAME (strict: every
trunk tensor must be there with its shape), normalises the image with ImageNet's mean
and std, runs conv1 .. layer4 and writes "layer4" [N, 512, h, w] to OUT.
safetensors is parsed by hand (8-byte little-endian header size, JSON header, raw data).
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    src, prefix, dst = sys.argv[1:]
    torch.set_num_threads(1)
    t = read_safetensors(src)
    net = torchvision.models.resnet18(norm_layer=lambda c: torch.nn.GroupNorm(c // 16, c))
    state = {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    want = {k for k in net.state_dict() if not k.startswith("fc.")}
    missing, extra = want - state.keys(), state.keys() - want
    if missing or extra:
        raise SystemExit(f"names differ: missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}")
    net.load_state_dict(state, strict=False)  # fc is not part of the trunk
    net.eval()
    x = t["image"].double().permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    x = ((x - mean) / std).float()
    with torch.no_grad():
        y = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        y = net.layer4(net.layer3(net.layer2(net.layer1(y))))
    write_safetensors(dst, {"layer4": y})


if __name__ == "__main__":
    main()
