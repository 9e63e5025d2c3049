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


# --- Error correction: constraint-length-7 convolutional codes, soft-decision Viterbi ----------
#
# The watermark carries the 64 payload bits (id + CRC) as a longer codeword: 64 bits plus a
# 6-bit zero tail, each step emitting one coded bit per generator.  Soft-decision Viterbi decoding
# uses the detector's per-bit evidence directly (worth ~2 dB over hard decisions), and the codes
# are linear, so the detector's null-hypothesis argument (keyed random signs) holds after decoding.
CONV_MEMORY = 6
RATE_HALF = (0o133, 0o171)  # the NASA/CCSDS K=7 code, free distance 10
RATE_QUARTER = (0o117, 0o127, 0o155, 0o171)  # Proakis' rate-1/4 K=7 code, free distance 20
_STATES = 1 << CONV_MEMORY


def codeword_bits(generators: tuple[int, ...] = RATE_HALF, n_bits: int = PAYLOAD_BITS) -> int:
    return (n_bits + CONV_MEMORY) * len(generators)


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


def _trellis(generators: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For each next state: its two predecessor states (2 x states) and coded bits as +-1 (2 x states x n_out)."""
    nxt = np.arange(_STATES)
    lsb = np.arange(2)[:, None]
    # reg = input bit (MSB) followed by the previous state; the next state is reg >> 1, so the
    # input bit is the next state's MSB and the dropped bit is the predecessor's LSB.
    reg = ((nxt[None, :] >> (CONV_MEMORY - 1)) << CONV_MEMORY) | ((nxt[None, :] << 1) & (_STATES - 1)) | lsb
    prev = reg & (_STATES - 1)
    out = np.stack([_parity(reg & g) for g in generators], axis=-1)
    return prev, 2.0 * out - 1.0


def conv_encode(bits: np.ndarray, generators: tuple[int, ...] = RATE_HALF) -> np.ndarray:
    """Encode message bits (0/1) with a zero tail; returns len(generators) * (len + 6) bits."""
    state = 0
    out = []
    for b in list(np.asarray(bits, dtype=np.uint8)) + [0] * CONV_MEMORY:
        reg = (int(b) << CONV_MEMORY) | state
        out.extend(bin(reg & g).count("1") & 1 for g in generators)
        state = reg >> 1
    return np.array(out, dtype=np.uint8)


def viterbi_decode(soft: np.ndarray, generators: tuple[int, ...] = RATE_HALF, n_bits: int = PAYLOAD_BITS) -> np.ndarray:
    """Maximum-likelihood message bits from soft values (positive = coded bit 1, 0 = erased)."""
    prev, signed = _trellis(generators)
    soft = np.asarray(soft, dtype=np.float64).reshape(n_bits + CONV_MEMORY, len(generators))
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    choices = np.empty((len(soft), _STATES), dtype=np.uint8)
    for t, r in enumerate(soft):
        cand = metric[prev] + signed @ r  # 2 x states
        choices[t] = np.argmax(cand, axis=0)
        metric = np.max(cand, axis=0)
    state = 0
    bits = np.empty(len(soft), dtype=np.uint8)
    for t in range(len(soft) - 1, -1, -1):
        bits[t] = state >> (CONV_MEMORY - 1)
        state = prev[choices[t, state], state]
    return bits[:n_bits]


def payload_to_codeword(payload_hex: str, generators: tuple[int, ...] = RATE_HALF) -> np.ndarray:
    return conv_encode(payload_to_bits(payload_hex), generators)
