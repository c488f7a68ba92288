"""Is a client history linearizable? A checker for the ``kv`` model.

What the question means
-----------------------
Each operation in a history (see :mod:`paxos_lit.history`) occupied an
interval of time, from its call to its return. The history is
*linearizable* (Herlihy and Wing, 1990) if we can pick, for every
operation, one instant inside its interval at which it "took effect", such
that running the operations one by one in the order of those instants on a
plain single-copy key-value store gives exactly the results the clients saw.
Equivalently: there is a total order of the operations that

1. respects real time -- if A returned before B was called, A comes first;
2. is legal -- replaying it on the sequential model reproduces every result.

That is the promise a replicated store like ours makes: however many
replicas, leaders and acceptors there are, clients cannot tell it from one
store on one machine.

An operation whose response never arrived (``"return": null``) may have taken
effect at any instant after its call, or never. We treat its return time as
``+infinity`` and make it *optional*: the search may finish without placing
it.

The kv model
------------
``get`` reads a key, ``put`` overwrites it, ``append`` adds to its end, and
``cas(expected, value)`` overwrites it only if it currently equals
``expected`` and says whether it did. A missing key reads as ``null``; an
empty string is accepted for it too (DESIGN.md section 6). We therefore keep
a key's state as a string in which "missing" is ``""``: a ``get`` answered
``null`` or ``""`` both match a missing key, and ``append`` to a missing key
starts from ``""``.

Step 1: one key at a time (P-compositionality)
----------------------------------------------
Linearizability is *local* (Herlihy and Wing's locality property): a history is
linearizable if and only if, for every object, the sub-history of the
operations on that object is. Every kv operation touches exactly one key, so
we split the history by key and check each part on its own. Horn and
Kroening ("Faster linearizability checking via P-compositionality", FORTE
2015) showed how much this helps: the search below is exponential in the
worst case, and splitting turns one search over ``n`` operations into many
searches over a few. Parts are checked smallest first, so the first failure
found is the smallest failing part, the easiest one to read.

Step 2: a just-in-time linearization search (Wing & Gong; Lowe)
---------------------------------------------------------------
The search is the one of Wing and Gong ("Testing and verifying concurrent
objects", 1993), with the improvements of Gavin Lowe ("Testing for
linearizability", Concurrency and Computation: Practice and Experience,
2017). It is also the algorithm behind Porcupine, Anish Athalye's Go
checker, whose test histories we use; this is our own code, written from the
papers' description.

Turn every operation into two *entries*, its call and its return, and sort
all entries by time. Then walk the list from the front, building a
linearization one operation at a time:

* At a **call** entry, try to linearize that operation *now*: run it on the
  model from the current state. If its result matches, remove ("lift") its
  call and return entries from the list, push it on a stack, and start again
  from the front of the list. If not, move on to the next entry: perhaps a
  later-called, overlapping operation has to go first.
* At a **return** entry, we are stuck: that operation's response was seen
  before anything further in the list was even called, so it must already
  have taken effect, yet we could not place it. Backtrack: pop the last
  operation off the stack, put its entries back in the list ("unlift"),
  restore the state, and try the entry after it.

The history is linearizable when every operation that returned is on the
stack; it is not when we must backtrack from an empty stack.

Only ever trying operations whose call comes before the first pending return
is the "just in time" part: it is exactly the set of operations that can go
next without breaking real-time order.

Lowe's main improvement is a **memo**. Two different paths can reach the
same situation: the same *set* of operations linearized (in a different
order) and the same model state. Whatever could be done from there the first
time can be done the second time, and it failed, so we skip it. The set is an
integer used as a bitset (bit ``i`` set when operation ``i`` is
linearized) and the state is an immutable string, so the pair is hashable
and the memo is a plain ``set``. Lowe also keeps the entries in a doubly
linked list, so that lifting and unlifting cost O(1) (the same trick as
Knuth's "dancing links"); we store the list as two arrays of indices.

Step 3: shortcuts, each an exchange argument
--------------------------------------------------
Each of these skips a move only when some other move the search does make
leads to a linearization whenever the skipped one would have.

* **Pending operations only where they matter.** A pending op placed where
  it changes nothing (a pending ``cas`` whose ``expected`` does not match, a
  ``put`` of the value already there) can simply be left out. And of two
  identical pending ops (Jepsen histories hold many timed-out "put 3"), the
  earlier-called can always stand in for the later one, so the later one is
  placed only after the earlier. Without these the memo fills up with every
  subset of interchangeable pending ops.
* **Reads first.** A ``get`` (or a failed ``cas``) that matches the current
  state changes no state, so moving it to the front of any linearization
  from here keeps every result the same and respects real time (it is
  already callable). So when such a read is a candidate it is the only move
  worth trying: we place it first, and if that leads nowhere, this
  configuration leads nowhere either.

Taking turns, and the time limit
--------------------------------
The search is exponential in the worst case, and a non-linearizable key can
take long to refute (every alternative must be tried). So the keys' searches
take turns of a tenth of a second each, smallest key first: one key whose
search explodes does not hide another that fails at once. Without a time
limit the answer is exactly that of checking the keys one by one, smallest
first. With one (``timeout_s``), the check may stop early: the verdict is
then unknown, unless some key already failed.

What a failure report means
---------------------------
:class:`LinResult` names the smallest failing key, the ids of its
operations, and the longest prefix of a linearization the search managed to
build for it: the operations just after that prefix are where to start
looking.

:func:`brute_force` is the definition itself: try every order. It is far too
slow for real histories, and is here so the tests can compare the two.
"""

from __future__ import annotations

import gc
import itertools
import math
import time
from collections import deque
from collections.abc import Generator
from dataclasses import asdict, dataclass

from paxos_lit.history import History, Operation

__all__ = ["LinResult", "check", "brute_force", "partition_by_key"]


@dataclass(frozen=True)
class LinResult:
    """The verdict on one history.

    ``linearizable`` is True only when a linearization was found for every
    key, and ``failing_key`` is set only when one key was shown not to be
    linearizable. ``timed_out`` means the time limit stopped the search
    first: with ``failing_key`` None the verdict is unknown (and
    ``linearizable`` False); with a ``failing_key`` the history is certainly
    not linearizable, but a smaller failing key may have gone unfound.
    """

    linearizable: bool
    partitions: int  # number of keys, each checked on its own
    failing_key: str | None = None  # the smallest key whose part is not linearizable
    failing_ops: tuple[int, ...] = ()  # ids of that part's operations, by call time
    longest_prefix: tuple[int, ...] = ()  # ids, in linearization order, of the
    # longest linearizable prefix of the failing part found by the search
    timed_out: bool = False  # the time limit stopped the search
    wall_s: float = 0.0  # seconds the check took

    def as_dict(self) -> dict:
        """A JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        d["failing_ops"] = list(self.failing_ops)
        d["longest_prefix"] = list(self.longest_prefix)
        return d


def partition_by_key(history: History) -> dict[str, list[Operation]]:
    """Split a kv history into per-key sub-histories (order kept)."""
    parts: dict[str, list[Operation]] = {}
    for op in history.ops:
        parts.setdefault(op.key, []).append(op)
    return parts


def check(history: History, *, timeout_s: float | None = None) -> LinResult:
    """Decide whether ``history`` (model ``kv``) is linearizable.

    ``timeout_s`` bounds the wall-clock time of the search (freeing its
    memory afterwards comes on top). If it runs out, ``timed_out`` is True
    and the verdict is unknown -- unless a failing key was already found:
    then ``linearizable`` is (certainly) False and ``failing_key`` is the
    smallest failing key found so far. Raises ValueError for a model other
    than ``kv``.
    """
    start = time.perf_counter()
    if history.model != "kv":
        raise ValueError(f"no linearizability model for {history.model!r}")
    deadline = None if timeout_s is None else start + timeout_s
    parts = partition_by_key(history)
    # Smallest part first: the first failure is the smallest failing part,
    # and small parts are cheap to decide.
    order = sorted(parts, key=lambda k: (len(parts[k]), k))
    # The memo holds millions of small tuples that can never form cycles;
    # the cyclic garbage collector would only crawl through them over and
    # over. Everything the searches built is freed (by reference counting)
    # when _take_turns returns, before the collector is back on.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        failed, timed_out = _take_turns(parts, order, deadline)
    finally:
        if gc_was_enabled:
            gc.enable()

    wall_s = time.perf_counter() - start
    if failed is not None:
        _, key, prefix = failed
        ops = sorted(parts[key], key=lambda o: (o.call, o.id))
        return LinResult(
            False,
            len(parts),
            failing_key=key,
            failing_ops=tuple(op.id for op in ops),
            longest_prefix=prefix,
            timed_out=timed_out,
            wall_s=wall_s,
        )
    if timed_out:
        return LinResult(False, len(parts), timed_out=True, wall_s=wall_s)
    return LinResult(True, len(parts), wall_s=wall_s)


# How long one key's search runs before the next key's gets a turn.
_TURN_S = 0.1


def _take_turns(
    parts: dict[str, list[Operation]], order: list[str], deadline: float | None
) -> tuple[tuple[int, str, tuple[int, ...]] | None, bool]:
    """Run the per-key searches, taking turns of _TURN_S seconds.

    One key whose search explodes must not hide another that fails at
    once, so the searches take turns (each yields every so often, see
    _search). Once a key fails only smaller keys are still worth finishing.
    Without a deadline the answer is the same as checking the keys one by
    one in ``order``. Returns ((rank, key, prefix) of the first failing key
    in ``order`` found, or None; whether time ran out first).
    """
    queue = deque((rank, key, _search(parts[key])) for rank, key in enumerate(order))
    failed: tuple[int, str, tuple[int, ...]] | None = None
    while queue:
        rank, key, search = queue[0]
        if failed is not None and rank > failed[0]:
            queue.popleft()  # a smaller failing key is already known
            continue
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            break
        turn_end = now + _TURN_S
        if deadline is not None:
            turn_end = min(turn_end, deadline)
        queue.popleft()
        try:
            next(search)
            while time.perf_counter() < turn_end:
                next(search)
        except StopIteration as finished:
            linearizable, prefix = finished.value
            if not linearizable and (failed is None or rank < failed[0]):
                failed = (rank, key, prefix)
            continue
        queue.append((rank, key, search))
    # Out of time if a key that could still matter is undecided.
    timed_out = any(failed is None or rank < failed[0] for rank, _, _ in queue)
    return failed, timed_out


# Operation codes for the model step. An int compare is the cheapest
# dispatch in CPython's inner loop; a cas whose outcome is known becomes a
# different code from one whose response was never seen.
_GET, _PUT, _APPEND, _CAS_OK, _CAS_FAIL, _CAS_ANY = range(6)


def _code(op: Operation) -> tuple[int, str, str]:
    """(code, a, b) for the model step; None values become "" (missing key)."""
    o = op.op
    kind = o["kind"]
    if kind == "get":
        return _GET, op.result["value"] or "", ""
    if kind == "put":
        return _PUT, o["value"], ""
    if kind == "append":
        return _APPEND, o["value"], ""
    expected = o["expected"] or ""
    if op.result is None:
        return _CAS_ANY, expected, o["value"]
    return (_CAS_OK if op.result["ok"] else _CAS_FAIL), expected, o["value"]


def _search(ops: list[Operation]) -> Generator[None, None, tuple[bool, tuple[int, ...]]]:
    """Search for a linearization of the operations on one key.

    A generator, so that searches can take turns: it yields every 256
    backtracks, and finally returns (True, a linearization) or (False, the
    longest prefix of one that it found), as ids.
    """
    # Which operations take part. Every returned op must be linearized.
    # A pending op is optional; a pending get changes nothing and is
    # dropped, and so is a pending op called after the last return: it can
    # only be placed after everything that must be, which changes nothing.
    required = [op for op in ops if op.ret is not None]
    if not required:
        return True, ()
    last_return = max(op.ret for op in required)
    pending = sorted(
        (op for op in ops
         if op.ret is None and op.kind != "get" and op.call <= last_return),
        key=lambda op: (op.call, op.id),
    )
    members = required + pending
    n = len(members)
    n_required = len(required)
    all_required = (1 << n_required) - 1  # the bits of the returned ops

    # Per operation: (code, a, b, bit, is_required, twin).
    #
    # `twin` prunes symmetric choices among pending ops. Jepsen histories
    # are full of identical pending writes ("put 3" that timed out, five
    # times). Using the later-called of two identical pending ops while the
    # earlier one is unused can always be swapped for using the earlier
    # one, so we only ever place a pending op once its previous identical
    # one (its twin, by call time) is placed. Without this the memo fills
    # with every subset of interchangeable ops.
    info_of_op = []
    last_twin: dict[tuple[int, str, str], int] = {}
    for i, op in enumerate(members):
        code, a, b = _code(op)
        twin = 0
        if i >= n_required:
            twin = last_twin.get((code, a, b), 0)
            last_twin[(code, a, b)] = 1 << i
        info_of_op.append((code, a, b, 1 << i, i < n_required, twin))
    ids = [op.id for op in members]

    # The entries, sorted by time. On equal times calls come first: an
    # operation that returned at t and one called at t are treated as
    # concurrent, the permissive reading (as Porcupine does). A pending op
    # returns at infinity, so it never blocks anything.
    events = []
    for i, op in enumerate(members):
        events.append((op.call, 0, i))
        events.append((math.inf if op.ret is None else op.ret, 1, i))
    events.sort()

    # The doubly linked list: positions 1..E are entries, 0 is the head
    # sentinel and E+1 the tail sentinel, so no None checks when unlinking.
    size = len(events) + 2
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    info: list = [None] * size  # the op's info at a call entry, None at a return
    op_at = [-1] * size  # the op index at a call entry
    match = [0] * size  # call entry -> position of its return entry
    call_pos = [0] * n
    for pos, (_, is_return, i) in enumerate(events, start=1):
        if is_return:
            match[call_pos[i]] = pos
        else:
            info[pos] = info_of_op[i]
            op_at[pos] = i
            call_pos[i] = pos

    state = ""  # the key's current value; "" also means missing
    linearized = 0  # bitset: bit i set when members[i] is placed
    stack: list[tuple[int, str, int]] = []  # (call entry, state, linearized) before it
    # Lowe's memo of configurations already entered: (linearized, state).
    memo: set[tuple[int, str]] = set()
    memo_add = memo.add
    best: tuple[int, ...] = ()  # the longest prefix seen at a dead end
    backtracks = 0

    def prefix() -> tuple[int, ...]:
        return tuple(ids[op_at[entry[0]]] for entry in stack)

    tail = size - 1
    p = nxt[0]
    fresh = True  # at a configuration entered for the first time
    while True:
        if fresh:
            # Reads first. A get or failed cas that matches the current state
            # can be placed now without loss: moving it earlier within its
            # interval changes no other result, because it changes no state.
            # So if one is a candidate, it is the only move to try here.
            fresh = False
            q = p
            e = info[q]
            while e is not None:
                code = e[0]
                if (code == _GET and state == e[1]) or (
                    code == _CAS_FAIL and state != e[1]
                ):
                    p = q
                    break
                q = nxt[q]
                e = info[q]
        e = info[p]
        if e is not None:
            # A call entry: can this operation take effect now?
            code, a, b, bit, is_required, twin = e
            if code == _GET:  # the commonest, so first
                ok = state == a
                new = state
            elif code == _PUT:
                ok = True
                new = a
            elif code == _APPEND:
                ok = True
                new = state + a
            elif code == _CAS_OK:
                ok = state == a
                new = b
            elif code == _CAS_FAIL:
                ok = state != a
                new = state
            else:  # _CAS_ANY: no response seen, so no result to match
                ok = True
                new = b if state == a else state
            if ok and not is_required:
                # A pending op is placed only where it changes the state
                # (elsewhere, leaving it out is the same linearization) and
                # only after its twin (see above).
                ok = new != state and linearized & twin == twin
            if ok:
                bits = linearized | bit
                # One hash instead of two: add, then see whether it grew.
                seen = len(memo)
                memo_add((bits, new))
                if len(memo) != seen:
                    stack.append((p, state, linearized))
                    if is_required and bits & all_required == all_required:
                        return True, prefix()
                    state = new
                    linearized = bits
                    # Lift: unlink the call entry and its return entry.
                    q = match[p]
                    a, b = prv[p], nxt[p]
                    nxt[a] = b
                    prv[b] = a
                    a, b = prv[q], nxt[q]
                    nxt[a] = b
                    prv[b] = a
                    p = nxt[0]
                    fresh = True
                    continue
                if code == _GET or code == _CAS_FAIL:
                    # A matching read whose outcome is known to fail: so
                    # does this configuration (see "reads first").
                    p = tail
                    continue
            p = nxt[p]
        else:
            # A return entry: its operation should already be placed. Undo
            # the most recent choice and try the next entry after it.
            if len(stack) > len(best):
                # A dead end is a local maximum of the stack: snapshot the
                # prefix here rather than at every push.
                best = prefix()
            if not stack:
                return False, best
            backtracks += 1
            if not backtracks & 255:
                yield  # let the other searches have a turn
            p, state, linearized = stack.pop()
            # Unlift, in the reverse order of lifting (dancing links).
            q = match[p]
            nxt[prv[q]] = q
            prv[nxt[q]] = q
            nxt[prv[p]] = p
            prv[nxt[p]] = p
            code = info[p][0]
            # After a read, nothing else is worth trying here (reads first).
            p = tail if code == _GET or code == _CAS_FAIL else nxt[p]


# --------------------------------------------------------------------------
# The definition, by brute force


def _null(v: str | None) -> bool:
    return v is None or v == ""


def _replay(order: tuple[Operation, ...]) -> bool:
    """Run ``order`` on a sequential kv store; do all results match?"""
    store: dict[str, str] = {}
    for op in order:
        o = op.op
        key = o["key"]
        current = store.get(key)  # None when missing
        if o["kind"] == "get":
            if op.result is not None:
                seen = op.result["value"]
                if not (seen == current or (_null(seen) and _null(current))):
                    return False
        elif o["kind"] == "put":
            store[key] = o["value"]
        elif o["kind"] == "append":
            store[key] = (current or "") + o["value"]
        else:  # cas
            matches = current == o["expected"] or (
                _null(current) and _null(o["expected"])
            )
            if op.result is not None and op.result["ok"] != matches:
                return False
            if matches:
                store[key] = o["value"]
    return True


def _respects_real_time(order: tuple[Operation, ...]) -> bool:
    """No operation is placed before one that returned before it was called."""
    for j, later in enumerate(order):
        if later.ret is None:
            continue
        for earlier in order[:j]:
            if later.ret < earlier.call:
                return False
    return True


def brute_force(history: History, *, max_ops: int = 8) -> bool:
    """Linearizability by its definition: try every order of every choice.

    Every returned operation must appear; every pending one may or may not.
    Exponential (n! orders), hence ``max_ops``; for tests only.
    """
    if history.model != "kv":
        raise ValueError(f"no linearizability model for {history.model!r}")
    if len(history.ops) > max_ops:
        raise ValueError(f"brute_force is for at most {max_ops} operations")
    required = [op for op in history.ops if op.ret is not None]
    pending = [op for op in history.ops if op.ret is None]
    for r in range(len(pending) + 1):
        for chosen in itertools.combinations(pending, r):
            for order in itertools.permutations(required + list(chosen)):
                if _respects_real_time(order) and _replay(order):
                    return True
    return False
