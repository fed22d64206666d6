#!/usr/bin/python3
"""Seed inputs for the fuzz targets (tests/fuzz/corpus/<target>/), one small valid file each, so
libFuzzer starts from the formats' structure. Rerun: /usr/bin/python3 tests/fuzz/make_corpus.py"""
import io
import os
import struct
import zlib

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


write("idx", "images", bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 3) + bytes(range(18)))
write("idx", "labels", bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([1, 2, 3, 9]))
for dtype in ["<f4", "<f8", "<i8"]:
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=dtype).reshape(2, 3))
    write("npy", dtype[1:], buf.getvalue())
body = b"RGCKPT\x00\x01" + struct.pack("<II", 1, 1)
body += struct.pack("<I", 1) + b"w" + struct.pack("<BB", 0, 2) + struct.pack("<qq", 2, 2) + np.ones(4, "<f4").tobytes()
write("checkpoint", "one_tensor", body + struct.pack("<I", zlib.crc32(body)))
write("cifar", "one_record", bytes([7]) + bytes(i % 256 for i in range(3072)))
# A 2×2 RGB PNG.
raw = b"".join(b"\x00" + bytes([255, 0, 0, 0, 255, 0]) for _ in range(2))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
write("image", "rgb2x2.png", png)
print("wrote", ROOT)
