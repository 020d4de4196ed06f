"""Blocked email domains and network ranges: parsed once, matched in constant time.

The lists are site settings (forum.settings), one entry a line. Parsing checks every line
and says which one is wrong; a parsed list is cached by its text, so a 10,000-line list is
parsed once per process and version, not per request. Matching a domain looks up each of its
parent domains in a set; matching an address masks it once per prefix length the list uses.
Pure Python over the standard library: no Flask, no database.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import lru_cache

# Most entries either list may hold (a longer list is refused on save, with this number).
MAX_ENTRIES = 20_000
# A label of a domain name in its ASCII (punycode) form.
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NETWORK_RE = re.compile(r"^[0-9A-Fa-f:.]+(/\d{1,3})?$")


class EntryError(ValueError):
    """A line that is not a domain (or not a network); `line` counts from 1."""

    def __init__(self, line: int, entry: str, reason: str) -> None:
        super().__init__(f"line {line}: {entry!r}: {reason}")
        self.line = line
        self.entry = entry
        self.reason = reason


def lines(text: str | None) -> list[str]:
    """The entries of a list: one a line, blank lines and # comments left out."""
    out = []
    for raw in (text or "").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if entry:
            out.append(entry)
    return out


def normalize_domain(value: str) -> str:
    """A domain (or the part after an address's @) lower-cased and in punycode, so that a
    look-alike in Unicode compares as what it really is. ValueError when it is no domain."""
    value = value.strip().rstrip(".")
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    if value.startswith("*."):
        value = value[2:]
    if not value:
        raise ValueError("empty")
    try:
        # UTS 46 mapping (IDNA 2003 in the standard library): case-folds and maps full-width
        # and compatibility characters, then encodes each label as punycode.
        ascii_form = value.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError("not a valid domain name") from exc
    labels = ascii_form.split(".")
    if len(ascii_form) > 253 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValueError("not a valid domain name")
    return ascii_form


def parse_domains(text: str | None) -> tuple[str, ...]:
    """The normalized domains of a list, in order, without repeats; EntryError on a bad line."""
    entries = lines(text)
    if len(entries) > MAX_ENTRIES:
        raise EntryError(MAX_ENTRIES + 1, entries[MAX_ENTRIES], "too many entries")
    seen: dict[str, None] = {}
    for number, entry in enumerate(entries, 1):
        try:
            seen[normalize_domain(entry)] = None
        except ValueError as exc:
            raise EntryError(number, entry, "not a domain name") from exc
    return tuple(seen)


def parse_networks(text: str | None) -> tuple[str, ...]:
    """The networks of a list (IPv4 and IPv6, CIDR or single addresses), each in its canonical
    form; EntryError on a bad line. Host bits are cleared (10.1.2.3/8 is 10.0.0.0/8), but a
    list may not block every address (a /0)."""
    entries = lines(text)
    if len(entries) > MAX_ENTRIES:
        raise EntryError(MAX_ENTRIES + 1, entries[MAX_ENTRIES], "too many entries")
    seen: dict[str, None] = {}
    for number, entry in enumerate(entries, 1):
        if len(entry) > 64 or not _NETWORK_RE.match(entry):
            raise EntryError(number, entry, "not an address range")
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise EntryError(number, entry, "not an address range") from exc
        if network.prefixlen == 0:
            raise EntryError(number, entry, "blocks every address")
        seen[str(network)] = None
    return tuple(seen)


@dataclass(frozen=True)
class Blocklist:
    domains: frozenset[str] = frozenset()
    # Per IP version: {prefix length: {network address as an int}}.
    networks: dict[int, dict[int, frozenset[int]]] = field(default_factory=dict)

    def blocks_domain(self, address_or_domain: str | None) -> bool:
        """Whether an email address (or a domain) is in a blocked domain or one under it."""
        if not self.domains or not address_or_domain:
            return False
        try:
            domain = normalize_domain(address_or_domain)
        except ValueError:
            return False
        labels = domain.split(".")
        return any(".".join(labels[i:]) in self.domains for i in range(len(labels)))

    def blocks_address(self, address: str | None) -> bool:
        """Whether an IP address is in a blocked range (an IPv4-mapped IPv6 address counts as
        the IPv4 address it maps)."""
        if not self.networks or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        by_length = self.networks.get(ip.version)
        if not by_length:
            return False
        bits = ip.max_prefixlen
        value = int(ip)
        for length, starts in by_length.items():
            mask = ((1 << length) - 1) << (bits - length)
            if value & mask in starts:
                return True
        return False


EMPTY = Blocklist()


@lru_cache(maxsize=8)
def compile_lists(domains_text: str | None, networks_text: str | None) -> Blocklist:
    """The matcher for these two lists (cached by their text: parsed once per version).

    Lists are checked when saved; an entry that no longer parses is skipped here rather than
    blocking nobody."""
    domains: set[str] = set()
    for entry in lines(domains_text):
        try:
            domains.add(normalize_domain(entry))
        except ValueError:
            continue
    grouped: dict[int, dict[int, set[int]]] = {}
    for entry in lines(networks_text):
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if network.prefixlen == 0:
            continue
        grouped.setdefault(network.version, {}).setdefault(network.prefixlen, set()).add(
            int(network.network_address)
        )
    if not domains and not grouped:
        return EMPTY
    return Blocklist(
        domains=frozenset(domains),
        networks={
            version: {length: frozenset(starts) for length, starts in sorted(by_length.items())}
            for version, by_length in grouped.items()
        },
    )
