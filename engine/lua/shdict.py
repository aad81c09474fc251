"""``ngx.shared.DICT`` (``lua_shared_dict``): a store in Python shared by every worker VM.

Why Python: real shared dicts live in shared memory visible to all worker processes; here
workers are separate ``LuaRuntime`` instances, so the data must live outside any of them.
Each VM gets Lua method wrappers (``engine/lua/shdict.lua``) that check arguments like
lua-resty-core and make exactly one Python call per operation.

Semantics follow ngx_lua 0.10.23 as observed on the oracle: ``set``/``add``/``replace``
return ``ok, err, forcible``; ``add`` on a live key gives ``false, "exists"``; ``replace``
on a missing or expired key ``false, "not found"``; ``incr`` ``nil, "not found"`` /
``"not a number"`` and takes ``init``/``init_ttl`` for missing or expired keys; lists give
``"value not a list"`` and ``get`` on a list ``"value is a list"``; expired entries stay
readable through ``get_stale`` (with a negative ``ttl``) until removed; ``flush_all``
marks every entry expired; ``get_keys`` lists live keys least recently used first. Expiry uses the
engine's cached :class:`~engine.lua.time.Clock` (milliseconds).

Memory is modelled, approximately, on nginx's slab allocator so that ``capacity``,
``free_space``, ``"no memory"`` and ``forcible`` behave plausibly: the zone's pages are
counted as nginx lays them out (1m -> 252 free pages, 512k -> 125, as on the oracle); an
entry costs ``68 + key + value`` bytes rounded up to a power-of-two chunk (8..2048) or
whole pages above that; chunks of one size share pages with ideal packing (real slabs
fragment). On allocation failure ``set`` first drops expired entries at the LRU tail,
then evicts the least recently used entries (up to 30) and reports ``forcible = true``;
the ``safe_*`` variants return ``"no memory"`` instead of evicting.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from engine.lua._loader import load_chunk
from engine.lua.time import Clock

PAGE = 4096
_NODE_OVERHEAD = 68      # rbtree node up to ``color`` + shdict node header
_LIST_NODE_OVERHEAD = 24
_QUEUE_SIZE = 16

# value kinds (as the Lua side sees them)
_NUM, _BOOL, _STR, _LIST = 3, 1, 4, 5


def _chunk(size: int) -> int:
    """Slab chunk size for an allocation; negative values mean whole pages."""
    if size > PAGE // 2:
        return -((size + PAGE - 1) // PAGE)
    c = 8
    while c < size:
        c <<= 1
    return c


def _num(v: Any) -> float:
    """A Lua number as the Lua side passes it: lupa turns integral doubles into ints,
    so ``-0`` comes as the string ``"-0"`` to keep its sign."""
    return -0.0 if v == b"-0" else float(v)


def _expires(ms: Any, now: int) -> int:
    """An absolute expiry from a C ``long`` of milliseconds: ``<= 0`` never expires."""
    ms = int(ms)
    return now + ms if ms > 0 else 0


def parse_size(text: str) -> int:
    """``10m`` / ``512k`` / ``1g`` / ``4096`` -> bytes (nginx size syntax)."""
    t = text.strip().lower()
    mult = {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}.get(t[-1:], 1)
    return int(t[:-1] if mult != 1 else t) * mult


class _Entry:
    __slots__ = ("kind", "value", "flags", "expires", "chunks")

    def __init__(self, kind: int, value: Any, flags: int, expires: int) -> None:
        self.kind = kind
        self.value = value
        self.flags = flags
        self.expires = expires   # absolute ms; 0 = never
        self.chunks: list[int] = []


class SharedDictZone:
    """One ``lua_shared_dict NAME SIZE`` zone."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self.lock = threading.RLock()
        self.data: OrderedDict[bytes, _Entry] = OrderedDict()  # LRU first, MRU last
        pages = max((size - 704) // (PAGE + 24), 0)
        start = -(-(704 + pages * 24) // PAGE) * PAGE
        excess = pages - (size - start) // PAGE
        if excess > 0:
            pages -= excess
        self.total_pages = pages
        self.used_chunks: dict[int, int] = {32: 1, 128: 1}  # the zone's own bookkeeping
        self.pages_in_use = 2

    # -- memory model ----------------------------------------------------------------
    def _pages_used(self) -> int:
        return self.pages_in_use

    def _try_alloc(self, nbytes: int) -> int | None:
        """Take a chunk (or pages) if the zone has room; kept O(1) per call."""
        c = _chunk(nbytes)
        if c < 0:
            if self.pages_in_use - c > self.total_pages:
                return None
            self.pages_in_use -= c
            return c
        count = self.used_chunks.get(c, 0)
        need = 1 if count % (PAGE // c) == 0 else 0
        if self.pages_in_use + need > self.total_pages:
            return None
        self.pages_in_use += need
        self.used_chunks[c] = count + 1
        return c

    def _release(self, c: int) -> None:
        if c < 0:
            self.pages_in_use += c
            return
        count = self.used_chunks[c] - 1
        self.used_chunks[c] = count
        if count % (PAGE // c) == 0:
            self.pages_in_use -= 1

    def _drop(self, key: bytes) -> None:
        entry = self.data.pop(key)
        for c in entry.chunks:
            self._release(c)

    def _expire_tail(self, now: int, force: bool) -> int:
        """``ngx_http_lua_shdict_expire``: maybe force-drop the LRU entry, then drop up
        to two expired ones from the tail."""
        freed = 0
        n = 0 if force else 1
        while n < 3 and self.data:
            key, entry = next(iter(self.data.items()))
            if n != 0 and (entry.expires == 0 or entry.expires > now):
                break
            n += 1
            self._drop(key)
            freed += 1
        return freed

    def _alloc(self, nbytes: int, now: int, safe: bool) -> tuple[int | None, bool]:
        """Allocate with nginx's eviction policy; returns ``(chunk, forcible)``."""
        c = self._try_alloc(nbytes)
        if c is not None or safe:
            return c, False
        forcible = False
        for _ in range(30):
            if self._expire_tail(now, True) == 0:
                break
            forcible = True
            c = self._try_alloc(nbytes)
            if c is not None:
                return c, True
        return None, forcible

    # -- operations ------------------------------------------------------------------
    def _lookup(self, key: bytes, now: int) -> tuple[_Entry | None, bool]:
        """Entry and whether it is expired; touching an entry makes it most recent."""
        entry = self.data.get(key)
        if entry is None:
            return None, False
        self.data.move_to_end(key)
        return entry, entry.expires != 0 and entry.expires <= now

    def get(self, key: bytes, stale: bool, now: int) -> tuple:
        """get tidies up like a write (up to two expired entries at the LRU tail go
        first); get_stale does not."""
        with self.lock:
            if not stale:
                self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            if entry is None or (expired and not stale):
                return (None,)
            if entry.kind == _LIST:
                return (None, b"value is a list")
            return (entry.value, entry.flags, expired)

    def store(self, op: int, key: bytes, kind: int, value: Any, exptime_ms: int,
              flags: int, now: int, tidy: bool = True) -> tuple:
        """set/add/replace/safe_*; ``op`` bits: 1 add, 2 replace, 4 safe. Like every
        writing operation, it first drops up to two expired entries at the LRU tail."""
        if kind == 0 and op & 3:
            return (False, b"attempt to add or replace nil values", False)
        with self.lock:
            if tidy:
                self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            live = entry is not None and not expired
            if op & 2 and not live:
                return (False, b"not found", False)
            if op & 1 and live:
                return (False, b"exists", False)
            if kind == 0:  # nil value: delete
                if entry is not None:
                    self._drop(key)
                return (True, None, False)
            if kind == _NUM:
                value = _num(value)
            vlen = len(value) if kind == _STR else 8 if kind == _NUM else 1
            if entry is not None:
                self._drop(key)
            chunk, forcible = self._alloc(_NODE_OVERHEAD + len(key) + vlen, now, bool(op & 4))
            if chunk is None:
                return (False, b"no memory", forcible)
            new = _Entry(kind, value, int(flags), _expires(exptime_ms, now))
            new.chunks.append(chunk)
            self.data[key] = new
            return (True, None, forcible)

    def incr(self, key: bytes, value: Any, init: Any, init_ttl_ms: int, now: int) -> tuple:
        with self.lock:
            value = _num(value)
            self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            if entry is None or expired:
                if init is None:
                    return (None, b"not found")
                total = _num(init) + value
                ok, err, forcible = self.store(0, key, _NUM, total, init_ttl_ms, 0, now, False)
                if not ok:
                    return (None, err)
                return (total, None, forcible)
            if entry.kind != _NUM:
                return (None, b"not a number")
            entry.value = entry.value + value
            return (entry.value, None, False)

    def push(self, key: bytes, value: Any, left: bool, isnum: bool, now: int) -> tuple:
        with self.lock:
            if isnum:
                value = _num(value)
            self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            if entry is not None and expired:
                self._drop(key)
                entry = None
            if entry is not None and entry.kind != _LIST:
                return (None, b"value not a list")
            vlen = len(value) if isinstance(value, bytes) else 8
            if entry is None:
                # (a list's node is allocated without evicting anything, unlike set's)
                head = self._try_alloc(_NODE_OVERHEAD + len(key) + _QUEUE_SIZE)
                if head is None:
                    return (False, b"no memory")
                entry = _Entry(_LIST, [], 0, 0)
                entry.chunks.append(head)
                self.data[key] = entry
            c = self._try_alloc(_LIST_NODE_OVERHEAD + vlen)  # no eviction for a node
            if c is None:
                # nginx answers nil here (false above) and drops a list left empty
                if not entry.value:
                    self._drop(key)
                return (None, b"no memory")
            entry.chunks.append(c)
            if left:
                entry.value.insert(0, value)
            else:
                entry.value.append(value)
            return (len(entry.value),)

    def pop(self, key: bytes, left: bool, now: int) -> tuple:
        with self.lock:
            self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            if entry is None or expired:
                return (None,)
            if entry.kind != _LIST:
                return (None, b"value not a list")
            value = entry.value.pop(0 if left else -1)
            self._release(entry.chunks.pop())
            if not entry.value:
                self._drop(key)
            return (value,)

    def llen(self, key: bytes, now: int) -> tuple:
        with self.lock:
            self._expire_tail(now, False)
            entry, expired = self._lookup(key, now)
            if entry is None or expired:
                return (0,)
            if entry.kind != _LIST:
                return (None, b"value not a list")
            return (len(entry.value),)

    def ttl(self, key: bytes, now: int) -> tuple:
        with self.lock:
            entry = self.data.get(key)
            if entry is None:
                return (None, b"not found")
            if entry.expires == 0:
                return (0,)
            return (float(entry.expires - now) / 1000,)

    def expire(self, key: bytes, exptime_ms: int, now: int) -> tuple:
        """ngx_lua peeks at the entry: an expired one not yet dropped (flush_all leaves
        most) is found, and lives again."""
        with self.lock:
            entry = self.data.get(key)
            if entry is None:
                return (None, b"not found")
            entry.expires = _expires(exptime_ms, now)
            return (True,)

    def flush_all(self, now: int) -> None:
        """nginx marks every entry expired (``get_stale`` still sees them), then
        force-drops the LRU entry and up to two more."""
        with self.lock:
            for entry in self.data.values():
                entry.expires = 1
            self._expire_tail(now, True)

    def flush_expired(self, max_count: int, now: int) -> int:
        with self.lock:
            freed = 0
            for key, entry in list(self.data.items()):
                if entry.expires != 0 and entry.expires <= now:
                    self._drop(key)
                    freed += 1
                    if 0 < max_count <= freed:
                        break
            return freed

    def get_keys(self, max_count: int, now: int) -> list[bytes]:
        with self.lock:
            keys = [k for k, e in self.data.items() if e.expires == 0 or e.expires > now]
            return keys[:max_count] if max_count > 0 else keys

    def capacity(self) -> int:
        return self.size

    def free_space(self) -> int:
        with self.lock:
            return max(self.total_pages - self._pages_used(), 0) * PAGE


class SharedDicts:
    """All zones of one nginx instance (what ``ngx.shared`` indexes)."""

    def __init__(self) -> None:
        self.zones: dict[str, SharedDictZone] = {}

    def add(self, zone: SharedDictZone) -> SharedDictZone:
        self.zones[zone.name] = zone
        return zone

    def get(self, name: str) -> SharedDictZone | None:
        return self.zones.get(name)


def install(lua: Any, ngx: Any, zones: SharedDicts, clock: Clock) -> None:
    """Build ``ngx.shared`` for one VM: a table of dict objects, one per zone."""

    def now() -> int:
        return clock.sec * 1000 + clock.msec

    def guarded(fn: Any) -> Any:
        def wrapper(zone_name: bytes, *args: Any) -> Any:
            zone = zones.zones.get(zone_name.decode("latin-1"))
            if zone is None:
                return (None, b"no such zone")
            try:
                return fn(zone, *args)
            except Exception as exc:  # keep Python tracebacks out of Lua
                return (None, f"shdict error: {exc}".encode())
        return wrapper

    ops = {
        b"get": lambda z, k: z.get(k, False, now()),
        b"get_stale": lambda z, k: z.get(k, True, now()),
        b"store": lambda z, o, k, kind, v, e, f: z.store(o, k, kind, v, e, f, now()),
        b"incr": lambda z, k, v, i, t: z.incr(k, v, i, t, now()),
        b"push": lambda z, k, v, left, isnum: z.push(k, v, left, isnum, now()),
        b"pop": lambda z, k, left: z.pop(k, left, now()),
        b"llen": lambda z, k: z.llen(k, now()),
        b"ttl": lambda z, k: z.ttl(k, now()),
        b"expire": lambda z, k, e: z.expire(k, e, now()),
        b"flush_all": lambda z: z.flush_all(now()),
        b"flush_expired": lambda z, m: z.flush_expired(m, now()),
        b"get_keys": lambda z, m: lua.table_from(z.get_keys(m, now())),
        b"capacity": lambda z: z.capacity(),
        b"free_space": lambda z: z.free_space(),
    }
    py = lua.table_from({name: guarded(fn) for name, fn in ops.items()})
    names = [name.encode("latin-1") for name in zones.zones]
    load_chunk(lua, "shdict")(ngx, py, lua.table_from(names))
