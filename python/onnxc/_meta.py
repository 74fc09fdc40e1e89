"""_meta — the model metadata ONNX Runtime's get_modelmeta() gives, read from the ModelProto's
top-level fields (and the graph's name and doc string) by walking the protobuf wire format: the
graph's nodes and weights are skipped over, never decoded, so a large model costs a few reads."""
import mmap


class ModelMetadata:
    """producer_name, graph_name, domain, description, graph_description, version,
    custom_metadata_map: as onnxruntime.ModelMetadata"""

    def __init__(self, **kw):
        self.producer_name = kw.get("producer_name", "")
        self.producer_version = kw.get("producer_version", "")
        self.graph_name = kw.get("graph_name", "")
        self.domain = kw.get("domain", "")
        self.description = kw.get("description", "")
        self.graph_description = kw.get("graph_description", "")
        self.version = kw.get("version", 0)
        self.custom_metadata_map = kw.get("custom_metadata_map", {})

    def __repr__(self):
        return (f"ModelMetadata(producer_name={self.producer_name!r}, graph_name={self.graph_name!r}, "
                f"domain={self.domain!r}, version={self.version})")


def _varint(b, i):
    v = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _fields(b, start, end):
    """(field number, wire type, value or (start, end) of a length-delimited field)"""
    i = start
    while i < end:
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
            yield f, wt, v
        elif wt == 1:
            i += 8
        elif wt == 5:
            i += 4
        elif wt == 2:
            n, i = _varint(b, i)
            if i + n > end:
                raise ValueError("truncated field")
            yield f, wt, (i, i + n)
            i += n
        else:
            raise ValueError("bad wire type")


def _text(b, span):
    return bytes(b[span[0]:span[1]]).decode("utf-8", "replace")


def parse(b):
    """ModelMetadata of a serialized ModelProto (bytes or mmap); fields that cannot be read stay empty"""
    kw = {"custom_metadata_map": {}}
    names = {2: "producer_name", 3: "producer_version", 4: "domain", 6: "description"}
    try:
        for f, wt, v in _fields(b, 0, len(b)):
            if wt == 2 and f in names:
                kw[names[f]] = _text(b, v)
            elif wt == 0 and f == 5:
                kw["version"] = v
            elif wt == 2 and f == 14:  # metadata_props: StringStringEntryProto {key = 1, value = 2}
                kv = {k: _text(b, s) for k, t, s in _fields(b, *v) if t == 2}
                kw["custom_metadata_map"][kv.get(1, "")] = kv.get(2, "")
            elif wt == 2 and f == 7:  # graph: name = 2, doc_string = 10
                for g, t, s in _fields(b, *v):
                    if t == 2 and g == 2:
                        kw["graph_name"] = _text(b, s)
                    elif t == 2 and g == 10:
                        kw["graph_description"] = _text(b, s)
    except ValueError:
        pass  # a malformed file: the session's load said so already
    return ModelMetadata(**kw)


def read(path_or_bytes):
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return parse(memoryview(path_or_bytes).cast("B"))
    with open(path_or_bytes, "rb") as fh:
        try:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return parse(m)
        except ValueError:  # an empty file cannot be mapped
            return ModelMetadata()
