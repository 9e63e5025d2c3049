"""The 64-bit watermark payload: a 48-bit generation id protected by a CRC-16.

The CRC lets a detector tell a recovered payload from noise: a random 64-bit
string passes it with probability 2**-16, and the watermark detector combines
that with its own statistic into the reported p-value.
"""

from __future__ import annotations

import secrets

import numpy as np

PAYLOAD_BITS = 64
ID_BITS = 48


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def make_payload(generation_id: int | None = None) -> str:
    """A 16-hex-digit payload for ``generation_id`` (random when None)."""
    gid = secrets.randbits(ID_BITS) if generation_id is None else generation_id
    if not 0 <= gid < 2**ID_BITS:
        raise ValueError(f"generation id must fit in {ID_BITS} bits")
    body = gid.to_bytes(ID_BITS // 8, "big")
    return (body + crc16_ccitt(body).to_bytes(2, "big")).hex()


def payload_is_valid(payload_hex: str) -> bool:
    try:
        raw = bytes.fromhex(payload_hex)
    except ValueError:
        return False
    return len(raw) == PAYLOAD_BITS // 8 and crc16_ccitt(raw[:-2]) == int.from_bytes(raw[-2:], "big")


def payload_to_bits(payload_hex: str) -> np.ndarray:
    raw = bytes.fromhex(payload_hex)
    if len(raw) * 8 != PAYLOAD_BITS:
        raise ValueError(f"payload must be {PAYLOAD_BITS} bits ({PAYLOAD_BITS // 4} hex digits)")
    return np.unpackbits(np.frombuffer(raw, dtype=np.uint8)).astype(np.uint8)


def bits_to_payload(bits: np.ndarray) -> str:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def generation_id(payload_hex: str) -> int:
    return int.from_bytes(bytes.fromhex(payload_hex)[: ID_BITS // 8], "big")
