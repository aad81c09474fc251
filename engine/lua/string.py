"""``ngx.md5``, ``ngx.sha1_bin``, ``ngx.crc32_*``, ``ngx.hmac_sha1``, base64, URI escaping,
``ngx.encode_args`` / ``ngx.decode_args`` and ``ngx.quote_sql_str``.

Why split: digests and base64 are Python (hashlib/zlib/binascii: C speed, one crossing
per call); the byte rewriting functions are Lua in ``engine/lua/string.lua`` (no crossing).

Facts checked on the oracle (OpenResty 0.10.23 + resty.core 0.1.25):

* ``escape_uri`` defaults to type 2 (URI component: keeps ``A-Z a-z 0-9 - . _ ~ ! ' ( ) *``);
  types 0..6 follow nginx's tables; other types raise ``"type" N out of range``.
* ``decode_base64`` reads up to the first ``=`` and ignores the rest, rejects any byte
  outside the standard alphabet and a length of 1 mod 4, and ignores leftover bits.
* ``encode_args`` emits pairs in ``pairs()`` order of the table (ngx_lua walks
  ``lua_next()``; key order therefore differs between LuaJIT builds); ``true`` gives a
  bare key, ``false`` is skipped, numbers go through ``tostring`` (``1e+20``).
* ``decode_args`` counts every ``&`` towards ``max_args`` (default 100, ``<= 0`` means no
  limit) and returns ``"truncated"`` as a second value when it stops early.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from typing import Any

from engine.lua._loader import load_chunk

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def md5(s: bytes) -> bytes:
    return hashlib.md5(s).hexdigest().encode()


def md5_bin(s: bytes) -> bytes:
    return hashlib.md5(s).digest()


def sha1_bin(s: bytes) -> bytes:
    return hashlib.sha1(s).digest()


def crc32(s: bytes) -> int:
    return zlib.crc32(s) & 0xFFFFFFFF


def hmac_sha1(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


def encode_base64(s: bytes, no_padding: bool) -> bytes:
    out = base64.b64encode(s)
    return out.rstrip(b"=") if no_padding else out


def decode_base64(s: bytes) -> bytes | None:
    """nginx's ngx_decode_base64(): data ends at the first ``=``; None means invalid."""
    eq = s.find(b"=")
    if eq >= 0:
        s = s[:eq]
    if s.translate(None, _B64_ALPHABET) or len(s) % 4 == 1:
        return None
    try:
        return binascii.a2b_base64(s + b"=" * (-len(s) % 4))
    except (binascii.Error, ValueError):
        return None


def install(lua: Any, ngx: Any) -> None:
    """Set the string/hash/encoding functions on ``ngx``."""
    py = lua.table_from({
        b"md5": md5, b"md5_bin": md5_bin, b"sha1_bin": sha1_bin, b"crc32": crc32,
        b"hmac_sha1": hmac_sha1, b"encode_base64": encode_base64,
        b"decode_base64": decode_base64,
    })
    load_chunk(lua, "string")(ngx, py)
