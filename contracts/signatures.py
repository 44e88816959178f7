"""Signed envelopes: each producer signs its events with its own Ed25519 key (pure: no IO).

The signature travels in the envelope (``signature``) and covers the canonical form of the
rest of it, so it survives the outbox's jsonb and any broker (docs/adr/signed-events.md).
The ingest trusts an event only if a key of the producer that owns its event type signed
exactly that envelope. Two forms exist:

- version 2 (what the outbox relay writes since 2026-12-06): one signature per publish
  batch. Each envelope's leaf hash goes into a Merkle tree (RFC 9162 shape, leaves and
  inner nodes domain-separated); the relay signs the root once, and each envelope carries
  the root, its signature, its leaf index, the batch size and its audit path. Each message
  stays verifiable alone (dead letters, replays), and the ingest verifies each root once.
- version 1 (no ``version`` member): one signature per envelope, made where the envelope
  was recorded. Still accepted, so messages on the broker at the upgrade are not lost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from contracts.catalog import PRODUCER_OF

SIGNATURE = "signature"  # the envelope's field
BATCH_VERSION = 2  # ``signature.version`` of a batch signature; absent: version 1
# Signed bytes start with these, so a signature over an event or a batch means nothing
# anywhere else, and the leaf and node prefixes (RFC 9162, 2.1.1) keep a leaf from passing
# for an inner node of the tree, or the other way round.
DOMAIN = b"cqrsw-event-v1\n"
LEAF_DOMAIN = b"\x00cqrsw-event-v2\n"
NODE_PREFIX = b"\x01"
ROOT_DOMAIN = b"cqrsw-batch-v2\n"
HASH_SIZE = 32
# Roots whose signature verified, per trusted set: one check per batch, not per event.
VERIFIED_ROOTS_KEPT = 4096


def canonical_json(event: Mapping[str, Any]) -> bytes:
    """The envelope without its signature, keys sorted, compact UTF-8 JSON."""
    unsigned = dict(event)
    unsigned.pop(SIGNATURE, None)
    return orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """What a version 1 signature signs: its domain, then the canonical JSON."""
    return DOMAIN + canonical_json(event)


_sha256 = hashlib.sha256
_join = b"".join


def leaf_hash(event: Mapping[str, Any]) -> bytes:
    """An envelope's leaf in its batch's Merkle tree: SHA-256 of 0x00, domain, canonical JSON."""
    return _sha256(_join((LEAF_DOMAIN, canonical_json(event)))).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(_join((NODE_PREFIX, left, right))).digest()


def root_message(root: bytes, size: int) -> bytes:
    """What a batch signature signs: its domain, the batch size, the Merkle root."""
    return ROOT_DOMAIN + size.to_bytes(8, "big") + root


def _split_point(n: int) -> int:
    """The largest power of two below ``n`` (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root of a non-empty list of leaf hashes and each leaf's audit path (leaf upward)."""
    paths: list[list[bytes]] = [[] for _ in leaves]

    def subtree(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaves[lo]
        mid = lo + _split_point(hi - lo)
        left, right = subtree(lo, mid), subtree(mid, hi)
        for i in range(lo, mid):
            paths[i].append(right)
        for i in range(mid, hi):
            paths[i].append(left)
        return node_hash(left, right)

    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    return subtree(0, len(leaves)), paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root a leaf's audit path leads to (RFC 9162, 2.1.3.2), or None if it cannot be one."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:  # node_hash inlined: this loop runs about log2(batch) times an event
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _sha256(_join((NODE_PREFIX, p, r))).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _sha256(_join((NODE_PREFIX, r, p))).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    """base64url without padding to bytes; ValueError if it is not that.

    ``binascii`` directly: ``base64.urlsafe_b64decode`` costs about four times as much,
    and the ingest decodes a proof per event."""
    try:
        data = text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4)
        return binascii.a2b_base64(data, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError(f"not base64url: {exc}") from None


@dataclass(frozen=True)
class EventSigner:
    """One producer's private key; signs the envelopes that producer makes."""

    producer: str
    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def sign(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``event`` with a version 1 signature of its own (any signature it had is replaced).

        What producers did before the relay signed batches; kept to make such events."""
        value = self.key.sign(canonical_bytes(event))
        return {**event, SIGNATURE: {"key_id": self.key_id, "value": _b64(value)}}

    def sign_batch(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The events of one publish batch, each with the batch's version 2 signature.

        One Ed25519 signature over the batch's Merkle root; each envelope carries the root,
        that signature, its index, the batch size and its audit path, in ``events``' order.
        Any signature an event had is replaced."""
        if not events:
            return []
        root, paths = merkle_tree([leaf_hash(e) for e in events])
        size = len(events)
        value = _b64(self.key.sign(root_message(root, size)))
        common = {
            "version": BATCH_VERSION, "key_id": self.key_id, "value": value, "root": _b64(root)
        }  # fmt: skip
        return [
            {
                **event,
                SIGNATURE: {
                    **common,
                    "index": i,
                    "size": size,
                    "path": _b64(b"".join(path)),
                },
            }
            for i, (event, path) in enumerate(zip(events, paths, strict=True))
        ]


@dataclass(frozen=True)
class TrustedKey:
    """A public key the ingest trusts, and the producer whose events it may sign."""

    producer: str
    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.key)


Seen = tuple[str, str, str, int]  # a batch signature as sent: key id, root, value, size
Proof = tuple[int, bytes, bytes]  # a leaf's index, its hash and its audit path (concatenated)


def group_root(proofs: Sequence[Proof], size: int) -> bytes | None:
    """The root that leaves of one tree of ``size`` leaves lead to, folded together.

    ``proofs`` holds each leaf once, in index order, every index in range. The tree is folded
    level by level (RFC 9162 shape: the last node of a level with no right neighbour moves
    up as it is), each inner node hashed once for the whole group. A node whose neighbour is
    not in the group takes it from its own path; where both are, each path must name the
    other and the rest of their paths must agree, so that every path is checked to its end.
    The answer is thus the root ``root_from_path`` gives each leaf, when it gives them all
    the same one. None if any path is too short, too long or disagrees: then the caller
    folds each leaf alone to tell which (``TrustedKeys.refusals``).
    """
    last = size - 1
    level = proofs
    while last:
        up: list[Proof] = []
        i, count = 0, len(level)
        while i < count:
            at, node, rest = level[i]
            i += 1
            if at & 1:  # a right node whose left neighbour is not here: it is in the path
                if len(rest) < HASH_SIZE:
                    return None
                node = _sha256(_join((NODE_PREFIX, rest[:HASH_SIZE], node))).digest()
                rest = rest[HASH_SIZE:]
            elif at == last:
                pass  # no right neighbour: it moves up unhashed
            elif i < count and level[i][0] == at + 1:  # both neighbours here
                _, right, right_rest = level[i]
                i += 1
                tail = rest[HASH_SIZE:]
                if rest[:HASH_SIZE] != right or right_rest[:HASH_SIZE] != node:
                    return None
                if tail != right_rest[HASH_SIZE:]:
                    return None
                node, rest = _sha256(_join((NODE_PREFIX, node, right))).digest(), tail
            else:  # a left node whose right neighbour is not here: it is in the path
                if len(rest) < HASH_SIZE:
                    return None
                node = _sha256(_join((NODE_PREFIX, node, rest[:HASH_SIZE]))).digest()
                rest = rest[HASH_SIZE:]
            up.append((at >> 1, node, rest))
        level = up
        last >>= 1
    ((_, root, rest),) = level
    return None if rest else root


def _off_the_root(index: int, size: int) -> str:
    return (
        f"bad proof: the envelope's audit path (leaf {index} of {size}) does not lead to the"
        " root it names (changed after signing, or a proof of another batch)"
    )


@dataclass
class _Batch:
    """The envelopes of one call that name one batch signature: the root's bytes, the
    producer, and each envelope's place in the call with its proof."""

    root: bytes
    owner: str
    members: list[tuple[int, Proof]]

    def proofs(self) -> list[Proof] | None:
        """Each leaf once, in index order; None if two envelopes give one index different
        leaves or paths (then each is folded alone)."""
        proofs = sorted({proof for _, proof in self.members})
        if any(a[0] == b[0] for a, b in itertools.pairwise(proofs)):
            return None
        return proofs


class TrustedKeys:
    """The ingest's trusted set: key id -> producer and public key; several per producer.

    Signatures are verified with PyNaCl (libsodium), each key loaded once here: about half
    the time of ``cryptography``'s OpenSSL call for the same check. Keys are still made,
    stored and signed with ``cryptography``; Ed25519 signatures are the same either way
    (RFC 8032). A batch root whose signature verified is remembered (a bounded LRU of
    ``VERIFIED_ROOTS_KEPT``), so each batch costs one check; a root that failed never is.
    The envelopes of one batch checked in one call (``refusals``) are folded together, each
    inner node of their tree hashed once (``group_root``).
    """

    def __init__(self, keys: Iterable[TrustedKey], *, roots_kept: int = VERIFIED_ROOTS_KEPT):
        self.by_id: dict[str, TrustedKey] = {}
        self.verifiers: dict[str, VerifyKey] = {}
        self.roots_kept = roots_kept
        # (key id, root as sent, signature as sent, size) -> the root's bytes
        self.verified_roots: OrderedDict[Seen, bytes] = OrderedDict()
        for trusted in keys:
            if trusted.producer not in PRODUCER_OF.values():
                raise ValueError(f"key {trusted.key_id}: unknown producer {trusted.producer!r}")
            if trusted.key_id in self.by_id:
                raise ValueError(f"key {trusted.key_id} is listed twice")
            self.by_id[trusted.key_id] = trusted
            self.verifiers[trusted.key_id] = VerifyKey(raw_public_bytes(trusted.key))

    def refusal(self, event: Mapping[str, Any]) -> str | None:
        """Why ``event`` (contract-valid) is not trusted, or None if its producer signed it."""
        return self.refusals([event])[0]

    def refusals(self, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """``refusal`` of each event (contract-valid), in order.

        Each answer is the one the event gets alone: the envelopes that name one batch
        signature are folded together, and if that fails, each alone."""
        answers: list[str | None] = [None] * len(events)
        batches: dict[Seen, _Batch] = {}
        for at, event in enumerate(events):
            answers[at] = self._claim(at, event, batches)
        for seen, batch in batches.items():
            size = seen[3]
            # One envelope alone: the plain fold below costs about half the group fold.
            proofs = batch.proofs() if len(batch.members) > 1 else None
            if proofs is not None and group_root(proofs, size) == batch.root:
                refusal = self._root_refusal(seen, batch.root, batch.owner)
                for at, _ in batch.members:
                    answers[at] = refusal
                continue
            for at, (index, leaf, path) in batch.members:  # each alone: which lead there
                hashes = [path[i : i + HASH_SIZE] for i in range(0, len(path), HASH_SIZE)]
                if root_from_path(leaf, index, size, hashes) == batch.root:
                    answers[at] = self._root_refusal(seen, batch.root, batch.owner)
                else:
                    answers[at] = _off_the_root(index, size)
        return answers

    def _claim(self, at: int, event: Mapping[str, Any], batches: dict[Seen, _Batch]) -> str | None:
        """Every check but a batch proof's fold: a refusal, or None (a version 1 signature
        that verified, or a version 2 proof added to its batch in ``batches``)."""
        event_type = event["event_type"]
        owner = PRODUCER_OF[event_type]
        if event["producer"] != owner:
            return (
                f"wrong producer: {event_type} is produced by {owner}, the envelope names"
                f" {event['producer']!r}"
            )
        signature = event.get(SIGNATURE)
        if signature is None:
            return "unsigned: the envelope carries no signature"
        kid = signature["key_id"]
        trusted = self.by_id.get(kid)
        if trusted is None:
            return f"unknown signing key {kid!r}: not among the trusted keys"
        if trusted.producer != owner:
            return (
                f"wrong producer: signed with key {kid} of {trusted.producer}, but {event_type}"
                f" is produced by {owner}"
            )
        if signature.get("version") == BATCH_VERSION:
            return self._claim_proof(at, event, signature, kid, owner, batches)
        if len(signature) != 2:  # key_id and value: a proof's members without its version
            return "bad signature: a version 1 signature has only key_id and value"
        try:
            self.verifiers[kid].verify(canonical_bytes(event), _unb64(signature["value"]))
        except (BadSignatureError, ValueError):  # nacl's ValueError is a ValueError
            return f"bad signature: the envelope does not verify with key {kid} of {owner}"
        return None

    def _claim_proof(
        self,
        at: int,
        event: Mapping[str, Any],
        signature: Mapping[str, Any],
        kid: str,
        owner: str,
        batches: dict[Seen, _Batch],
    ) -> str | None:
        """A version 2 signature's proof, well formed, added to its batch; or why not."""
        try:
            root_text, index, size = signature["root"], signature["index"], signature["size"]
            path = _unb64(signature["path"])
            seen: Seen = (kid, root_text, signature["value"], size)
            batch = batches.get(seen)
            root = batch.root if batch is not None else self.verified_roots.get(seen)
            if root is None:
                root = _unb64(root_text)
        except (KeyError, TypeError, ValueError):
            return "bad proof: a version 2 signature needs root, index, size and path"
        if type(index) is not int or type(size) is not int:
            return "bad proof: index and size are integers"
        if len(root) != HASH_SIZE or len(path) % HASH_SIZE:
            return "bad proof: the root or the audit path is not made of SHA-256 hashes"
        if not 0 <= index < size:
            return _off_the_root(index, size)
        if batch is None:
            batch = batches[seen] = _Batch(root, owner, [])
        batch.members.append((at, (index, leaf_hash(event), path)))
        return None

    def _root_refusal(self, seen: Seen, root: bytes, owner: str) -> str | None:
        """None if the batch signature ``seen`` names verifies over ``root``; remembered."""
        if seen in self.verified_roots:
            self.verified_roots.move_to_end(seen)
            return None
        kid, _, value, size = seen
        try:
            self.verifiers[kid].verify(root_message(root, size), _unb64(value))
        except (BadSignatureError, ValueError):
            return f"bad signature: the batch root does not verify with key {kid} of {owner}"
        self.verified_roots[seen] = root
        if len(self.verified_roots) > self.roots_kept:
            self.verified_roots.popitem(last=False)
        return None


def public_jwk(trusted: TrustedKey) -> dict[str, str]:
    """A trusted key as a JWK (RFC 8037, OKP Ed25519) with the producer it speaks for."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "kid": trusted.key_id,
        "x": _b64(raw_public_bytes(trusted.key)),
        "producer": trusted.producer,
    }


def trusted_from_jwk(jwk: Any) -> TrustedKey:
    """A trusted key from its JWK; ValueError saying what is wrong with it."""
    if not isinstance(jwk, dict):
        raise ValueError("a key must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError(f"key {jwk.get('kid')!r}: only OKP Ed25519 keys are accepted")
    producer, x, kid = jwk.get("producer"), jwk.get("x"), jwk.get("kid")
    if not isinstance(producer, str) or not isinstance(x, str) or not isinstance(kid, str):
        raise ValueError(f"key {kid!r}: needs string members kid, x and producer")
    try:
        public = Ed25519PublicKey.from_public_bytes(_unb64(x))
    except ValueError as exc:
        raise ValueError(f"key {kid!r}: x is not an Ed25519 public key ({exc})") from None
    trusted = TrustedKey(producer, public)
    if trusted.key_id != kid:
        raise ValueError(f"key {kid!r}: kid does not match its key (expected {trusted.key_id})")
    return trusted


def trusted_from_jwks(document: Any) -> TrustedKeys:
    """The trusted set from a JWK set (``{"keys": [...]}``); ValueError if malformed."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a trusted key set is a JSON object {"keys": [...]}')
    return TrustedKeys(trusted_from_jwk(k) for k in document["keys"])
