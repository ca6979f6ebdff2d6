"""Small valid media files made from text: PNG images and speech in every TTS format.

Everything is deterministic and built with the stdlib only (``zlib``, ``struct``):

- ``png(seed, width, height)``: an RGB PNG whose colours come from a hash of ``seed``
  (a prompt), drawn as a diagonal gradient; ``png_grid`` puts four of them in a 2×2 grid
  (a Midjourney result).
- ``speech(text, fmt)``: audio whose length grows with the text (``speech_seconds``):
  ``wav`` and ``pcm`` hold a quiet tone (16-bit mono 24 kHz, the format OpenAI's ``pcm``
  documents); ``mp3``, ``opus``, ``aac`` and ``flac`` hold silence in real frames of that
  codec, so decoders accept them. Each codec's frame is explained where it is built; they
  were checked by decoding with FFmpeg (PyAV 18) and libsndfile 1.2 (soundfile), which
  report the expected duration, sample rate and channel count.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Callable

__all__ = [
    "SPEECH_TYPES",
    "is_image",
    "pcm",
    "png",
    "png_grid",
    "speech",
    "speech_seconds",
    "wav",
]

SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""``response_format`` → ``Content-Type`` of ``/v1/audio/speech``, as OpenAI answers."""
_RATE = 24_000


def is_image(data: bytes) -> bool:
    """Whether ``data`` starts like a PNG, JPEG, WebP or GIF file."""
    return data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )


# --- images ---


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _encode_png(width: int, height: int, pixel: Callable[[int, int], bytes]) -> bytes:
    rows = b"".join(b"\x00" + b"".join(pixel(x, y) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _palette(seed: str) -> tuple[bytes, bytes]:
    digest = hashlib.blake2b(seed.encode("utf-8"), digest_size=6).digest()
    return digest[:3], digest[3:]


def _shade(a: bytes, b: bytes, t: float) -> bytes:
    return bytes(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


def png(seed: str, width: int = 32, height: int = 32) -> bytes:
    """A ``width``×``height`` PNG: a diagonal gradient between two colours hashed from ``seed``."""
    a, b = _palette(seed)
    span = max(width + height - 2, 1)
    return _encode_png(width, height, lambda x, y: _shade(a, b, (x + y) / span))


def png_grid(seed: str, cell: int = 16) -> bytes:
    """A 2×2 grid of ``cell``-pixel images, each from ``seed`` and its position (1-4)."""
    palettes = [_palette(f"{seed}#{i}") for i in range(1, 5)]
    span = max(2 * cell - 2, 1)

    def pixel(x: int, y: int) -> bytes:
        a, b = palettes[(y >= cell) * 2 + (x >= cell)]
        return _shade(a, b, ((x % cell) + (y % cell)) / span)

    return _encode_png(2 * cell, 2 * cell, pixel)


# --- audio ---


def speech_seconds(text: str) -> float:
    """Length of the speech for ``text``: 60 ms per character, between 0.2 s and 3 s."""
    return min(max(len(text) * 0.06, 0.2), 3.0)


def _samples(seconds: float, pitch: float) -> bytes:
    n = int(seconds * _RATE)
    step = 2 * math.pi * pitch / _RATE
    return b"".join(struct.pack("<h", int(2000 * math.sin(i * step))) for i in range(n))


def pcm(seconds: float, pitch: float = 440.0) -> bytes:
    """Raw 16-bit little-endian mono 24 kHz samples of a quiet sine tone (what Gemini TTS
    sends as ``audio/L16;codec=pcm;rate=24000``)."""
    return _samples(seconds, pitch)


def wav(seconds: float, pitch: float = 440.0) -> bytes:
    """A 16-bit mono 24 kHz RIFF/WAVE file holding a quiet sine tone."""
    data = _samples(seconds, pitch)
    fmt = struct.pack("<HHIIHH", 1, 1, _RATE, _RATE * 2, 2, 16)  # PCM, mono
    body = b"WAVE" + _chunk_le(b"fmt ", fmt) + _chunk_le(b"data", data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk_le(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data


# MPEG-1 Layer III, 32 kbit/s, 48 kHz, mono, no CRC: header FF FB 14 C4 (sync, MPEG-1,
# layer III, no CRC / bitrate index 1, 48 kHz, no padding / mono, "original" bit). A frame
# is 144 * 32000 / 48000 = 96 bytes and lasts 1152 / 48000 = 24 ms. The 92 bytes after the
# header are zero: side information with part2_3_length 0 for the one granule pair, i.e.
# no coded spectrum, which every decoder renders as silence.
_MP3_FRAME = bytes.fromhex("fffb14c4") + bytes(92)
_MP3_FRAME_SECONDS = 1152 / 48_000


def _mp3(seconds: float) -> bytes:
    return _MP3_FRAME * max(1, round(seconds / _MP3_FRAME_SECONDS))


# AAC-LC in ADTS, 24 kHz mono. The 7-byte ADTS header (no CRC) is followed by a 4-byte raw
# data block: a single-channel element with global_gain 0, a long window and max_sfb 0
# (no spectral data at all), then the END element: 1024 samples of silence per frame.
_AAC_FRAME_SECONDS = 1024 / _RATE


def _adts_frame() -> bytes:
    payload = bytes.fromhex("00000007")  # SCE: 29 zero bits (tag 0, gain 0, max_sfb 0); END: 111
    length = 7 + len(payload)
    # syncword 0xFFF, MPEG-4, layer 0, protection absent; profile LC (1), rate index 6
    # (24 kHz), channel config 1; frame length (13 bits); buffer fullness 0x7FF; 1 block.
    bits = (0xFFF << 44) | (0 << 43) | (0 << 41) | (1 << 40) | (1 << 38) | (6 << 34)
    bits |= (1 << 30) | (length << 13) | (0x7FF << 2)
    return bits.to_bytes(7, "big") + payload


def _aac(seconds: float) -> bytes:
    return _adts_frame() * max(1, round(seconds / _AAC_FRAME_SECONDS))


# Ogg Opus (RFC 7845): an OpusHead page, an OpusTags page, then audio pages of 20 ms
# packets F8 FF FE: TOC 0xF8 = CELT fullband 20 ms, mono, one frame; FF FE is the
# shortest CELT frame that decodes to silence (the packet WebRTC and Discord send).
_OPUS_PACKET = b"\xf8\xff\xfe"
_OPUS_SECONDS = 0.02


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packets: list[bytes], granule: int, sequence: int, flags: int) -> bytes:
    lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in packets)
    header = struct.pack(
        "<4sBBqIIIB", b"OggS", 0, flags, granule, 0x4A554845, sequence, 0, len(lacing)
    )
    page = header + lacing + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def _opus(seconds: float) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, _RATE, 0, 0)  # mono, pre-skip 312
    vendor = b"juhe-emulator"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    count = max(1, round(seconds / _OPUS_SECONDS))
    pages = [_ogg_page([head], 0, 0, 0x02), _ogg_page([tags], 0, 1, 0x00)]
    done = 0
    while done < count:  # one page per second of audio (libsndfile rejects longer pages)
        size = min(50, count - done)
        done += size
        granule = 312 + done * 960  # granule positions count 48 kHz samples
        flags = 0x04 if done == count else 0x00
        pages.append(_ogg_page([_OPUS_PACKET] * size, granule, len(pages), flags))
    return b"".join(pages)


# FLAC: "fLaC", a STREAMINFO block, then frames of 4096 samples, each with one CONSTANT
# subframe of value 0 (silence). Frame header and footer carry the CRC-8 and CRC-16 the
# format requires.
_FLAC_BLOCK = 4096


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def _utf8_number(n: int) -> bytes:
    return chr(n).encode("utf-8")  # FLAC frame numbers use UTF-8's variable-length code


def _flac(seconds: float) -> bytes:
    total = max(1, int(seconds * _RATE))
    info = struct.pack(">HH", _FLAC_BLOCK, _FLAC_BLOCK) + bytes(6)  # block sizes, frame sizes
    # 20 bits rate, 3 bits channels-1, 5 bits bits-per-sample-1, 36 bits total samples
    packed = (_RATE << 44) | (0 << 41) | (15 << 36) | total
    info += packed.to_bytes(8, "big") + bytes(16)  # MD5 zero: "not computed"
    out = [b"fLaC", bytes([0x80]) + len(info).to_bytes(3, "big") + info]  # last block
    for number, start in enumerate(range(0, total, _FLAC_BLOCK)):
        size = min(_FLAC_BLOCK, total - start)
        # sync 0xFFF8 (fixed block size); block size code 7 (16-bit size-1 follows) and
        # rate code 0 (from STREAMINFO); mono, 16 bits, reserved 0.
        header = b"\xff\xf8" + bytes([0x70, 0x08]) + _utf8_number(number)
        header += struct.pack(">H", size - 1)
        header += bytes([_crc8(header)])
        frame = header + b"\x00" + b"\x00\x00"  # CONSTANT subframe, value 0 (16 bits)
        out.append(frame + struct.pack(">H", _crc16(frame)))
    return b"".join(out)


def speech(text: str, fmt: str) -> bytes:
    """Audio for ``text`` in ``fmt`` (a key of ``SPEECH_TYPES``)."""
    seconds = speech_seconds(text)
    pitch = 220.0 + (zlib.crc32(text.encode("utf-8")) % 440)
    if fmt == "wav":
        return wav(seconds, pitch)
    if fmt == "pcm":
        return _samples(seconds, pitch)
    encoders = {"mp3": _mp3, "aac": _aac, "opus": _opus, "flac": _flac}
    return encoders[fmt](seconds)
