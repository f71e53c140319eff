"""Reads TensorBoard event files (TFRecord framing + Event protos) without TensorFlow."""

import struct

from tensorboardX.proto import event_pb2


def read_events(path: str) -> list:
    """All Event protos of one event file, in order."""
    events = []
    with open(path, "rb") as f:
        while header := f.read(12):  # uint64 length, uint32 masked crc of the length
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            f.read(4)  # masked crc of the data
            event = event_pb2.Event()
            event.ParseFromString(data)
            events.append(event)
    return events


def scalar_tags(path: str) -> set[str]:
    """The tags of every simple scalar value in the file."""
    return {v.tag for e in read_events(path) if e.HasField("summary") for v in e.summary.value if v.HasField("simple_value")}
