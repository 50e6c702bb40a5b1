"""Minimal safetensors reader/writer (numpy only; no `safetensors` package).

Format: an 8-byte little-endian header length N, then N bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}` with an
optional `"__metadata__": {str: str}` entry, then the data section (each
tensor's bytes, little-endian, row-major, offsets relative to the section
start). We write keys sorted, `__metadata__` first, compact JSON, the header
padded with spaces so that the data section starts at a multiple of 8, the
data ordered widest dtype first (as the safetensors library does) so every
tensor is aligned to its element size.
Supported dtypes: F32, F64, I32, I64.

    from safetensors_io import save_file, load_file
    save_file({"w": np.zeros((2, 3), np.float32)}, "x.safetensors", {"format": "pt"})
    tensors, metadata = load_file("x.safetensors", with_metadata=True)
"""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
}


def _dtype_name(arr):
    for name, dt in _DTYPES.items():
        if arr.dtype.kind == dt.kind and arr.dtype.itemsize == dt.itemsize:
            return name
    raise TypeError(f"unsupported dtype {arr.dtype} (only float32/float64/int32/int64)")


def serialize(tensors, metadata=None):
    """Returns the bytes of a safetensors file holding `tensors` ({name: array})."""
    header = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("__metadata__ must map str to str")
        header["__metadata__"] = dict(sorted(metadata.items()))
    arrays = {}
    for name in tensors:
        if name == "__metadata__":
            raise ValueError("'__metadata__' is not a tensor name")
        arr = np.asarray(tensors[name])
        arrays[name] = arr.astype(_DTYPES[_dtype_name(arr)], order="C", copy=False)  # keeps 0-d
    # Data laid out like the safetensors library does (widest dtype first, then
    # by name) so every tensor is aligned to its element size; header keys sorted.
    entries, chunks, offset = {}, [], 0
    for name in sorted(arrays, key=lambda k: (-arrays[k].dtype.itemsize, k)):
        arr = arrays[name]
        entries[name] = {"dtype": _dtype_name(arr), "shape": list(arr.shape),
                         "data_offsets": [offset, offset + arr.nbytes]}
        chunks.append(arr.tobytes())
        offset += arr.nbytes
    header.update((name, entries[name]) for name in sorted(entries))
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save_file(tensors, path, metadata=None):
    with open(path, "wb") as f:
        f.write(serialize(tensors, metadata))


def deserialize(blob, with_metadata=False):
    """Parses safetensors bytes into {name: numpy array} (copies, writable)."""
    if len(blob) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"header length {n} runs past the end of the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", None)
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise TypeError(f"{name}: unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{name}: data_offsets {info['data_offsets']} do not fit shape {shape}")
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
    return (out, metadata) if with_metadata else out


def load_file(path, with_metadata=False):
    with open(path, "rb") as f:
        return deserialize(f.read(), with_metadata)


if __name__ == "__main__":  # round-trip self-test
    rng = np.random.default_rng(0)
    t = {"b": rng.standard_normal((3, 5)).astype(np.float32), "a": np.array(1.5, np.float32),
         "c": np.arange(7, dtype=np.int64), "d": rng.standard_normal(4), "e": np.arange(3, dtype=np.int32),
         "empty": np.zeros((0, 4), np.float32)}
    blob = serialize(t, {"format": "pt"})
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0
    back, meta = deserialize(blob, with_metadata=True)
    assert meta == {"format": "pt"}
    for k, v in t.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
    print("safetensors_io round trip ok;", blob[8:8 + n].decode())
