"""DynamoDB facts the emulator does not check for us: how large an item is, counted as DynamoDB counts it.

DynamoDB's developer guide ("Item sizes and formats") counts an item as the UTF-8 length of each attribute
name plus its value: a string's UTF-8 bytes, a binary's raw bytes, a number about one byte per two significant
digits plus one, one byte for a Boolean or null, three bytes for a list or map plus one byte per element, and
the sum of the elements for a set. An item may take 400 KB.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

MAX_ITEM_BYTES = 400 * 1024


def value_bytes(value: Mapping[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form (``{"S": ...}``, ``{"B": ...}`` ...)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8", "surrogatepass"))
    if kind == "B":
        return len(_raw(data))
    if kind == "N":
        return _number_bytes(str(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8", "surrogatepass")) for s in data)
    if kind == "BS":
        return sum(len(_raw(b)) for b in data)
    if kind == "NS":
        return sum(_number_bytes(n) for n in data)
    if kind == "L":
        return 3 + sum(1 + value_bytes(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_bytes(v) for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The size of an item (attribute name -> value) as DynamoDB counts it against its 400 KB limit."""
    return sum(len(name.encode("utf-8", "surrogatepass")) + value_bytes(value) for name, value in item.items())


def scan_all(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` (low-level client, all pages)."""
    arguments: dict[str, Any] = {"TableName": table}
    while True:
        page = client.scan(**arguments)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _raw(data: Any) -> bytes:
    """botocore gives bytes; the wire (a proxy's view) gives base64 text."""
    return bytes(data) if isinstance(data, bytes | bytearray) else base64.b64decode(data)


def _number_bytes(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return (len(digits.rstrip("0") or "0") + 1) // 2 + 1


def create_state_table(client: Any, name: str) -> None:
    """The detector's state table as the stack makes it (partition key ``pk``, a string; on demand)."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
