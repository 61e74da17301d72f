"""Protobuf messages the doors need that no well-kept package ships, declared with protobuf's descriptor
API (no generated code, no hand-written wire decoding): google.rpc.Status, the error body of OTLP/HTTP, and
Loki's PushRequest (github.com/grafana/loki pkg/push/push.proto, the body Promtail, Alloy and Vector send).

Only field numbers and types matter on the wire, so the package name here is ours; Loki's
``google.protobuf.Timestamp`` is declared as a message of the same two fields.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _message(
    file: descriptor_pb2.FileDescriptorProto, name: str, fields: list[tuple[str, int, int, str | None, bool]]
) -> None:
    msg = file.message_type.add(name=name)
    for field_name, number, kind, type_name, repeated in fields:
        msg.field.add(
            name=field_name,
            number=number,
            type=kind,
            label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
            **({"type_name": type_name} if type_name else {}),
        )


def _build() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(
        name="logpipe_doors.proto", package="logpipe.doors", syntax="proto3"
    )
    # google/rpc/status.proto (details, field 3, is never sent: it would need google.protobuf.Any).
    _message(
        file, "Status", [("code", 1, _F.TYPE_INT32, None, False), ("message", 2, _F.TYPE_STRING, None, False)]
    )
    # loki pkg/push/push.proto
    _message(
        file,
        "Timestamp",
        [("seconds", 1, _F.TYPE_INT64, None, False), ("nanos", 2, _F.TYPE_INT32, None, False)],
    )
    _message(
        file,
        "LabelPair",
        [("name", 1, _F.TYPE_STRING, None, False), ("value", 2, _F.TYPE_STRING, None, False)],
    )
    _message(
        file,
        "Entry",
        [
            ("timestamp", 1, _F.TYPE_MESSAGE, ".logpipe.doors.Timestamp", False),
            ("line", 2, _F.TYPE_STRING, None, False),
            ("structuredMetadata", 3, _F.TYPE_MESSAGE, ".logpipe.doors.LabelPair", True),
        ],
    )
    _message(
        file,
        "Stream",
        [
            ("labels", 1, _F.TYPE_STRING, None, False),
            ("entries", 2, _F.TYPE_MESSAGE, ".logpipe.doors.Entry", True),
            ("hash", 3, _F.TYPE_UINT64, None, False),
        ],
    )
    _message(file, "PushRequest", [("streams", 1, _F.TYPE_MESSAGE, ".logpipe.doors.Stream", True)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"logpipe.doors.{name}"))
        for name in ("Status", "PushRequest")
    }


_CLASSES: Final = _build()
Status: Final[Any] = _CLASSES["Status"]
LokiPushRequest: Final[Any] = _CLASSES["PushRequest"]
