"""The client stub: sends commands, retransmits until answered, and records
what it saw as a history (DESIGN section 6, ``paxos-lit-history/1``).

PMMC leaves clients abstract; ours is a closed loop: one command at a time,
each identified by (client id, request number).  The first send goes to one
replica (clients take turns, so the load spreads); if no answer comes in
time, the same command (same request number, so replicas recognise it) goes
to every replica, again and again.  The history it records is what a
linearizability checker needs: when each operation was called, when (if
ever) it returned, and its result.

A client is not a role of the paper, and it is the one process that reads
the clock: ``env.now`` is the driver's (virtual) time, used only for the
history.
"""

from __future__ import annotations

from .kvstore import op_to_json, result_to_json
from .messages import Request, Response
from .process import Process
from .types import Command


class Client(Process):
    id_prefix = "c"
    #: Virtual time to wait for an answer before sending to every replica.
    RETRY_AFTER = 30.0

    def __init__(self, pid, env, replicas, ops=(), first=0):
        super().__init__(pid, env)
        # replicas: whom to ask (a tuple of ids).
        self.replicas = tuple(replicas)
        # ops: the operations still to issue, in order (a list of tuples).
        self.ops = list(ops)
        # req_id: the number of the last command issued.
        self.req_id = 0
        # pending: the command awaiting an answer, or None.
        self.pending = None
        # first: which replica gets the first send of the next command.
        self.first = first
        # history: one record per command issued (history-format dicts).
        self.history: list = []

    def start(self) -> None:
        self._next()

    def submit(self, op: tuple) -> None:
        """Queue one more operation (used for reconfigurations)."""
        self.ops.append(op)
        if self.pending is None:
            self._next()

    def _next(self) -> None:
        if not self.ops:
            self.pending = None
            return
        op = self.ops.pop(0)
        self.req_id += 1
        c = self.pending = Command(self.id, self.req_id, op)
        self.history.append({"id": None, "client": self.id, "call": self.env.now,
                             "return": None, "op": op, "result": None})
        self.env.send(self.replicas[self.first % len(self.replicas)], Request(self.id, c))
        self.first += 1
        self.env.set_timer(self.RETRY_AFTER, str(self.req_id))

    def on_Response(self, msg: Response) -> None:
        """The answer to the pending command completes it; any other answer
        (a duplicate, or one for an earlier command) is ignored."""
        if msg.command == self.pending:
            record = self.history[-1]
            record["return"] = self.env.now
            record["result"] = msg.result
            self._next()

    def on_timer(self, tag: str) -> None:
        """Still no answer: send the same command to every replica."""
        c = self.pending
        if c is not None and tag == str(c.req_id):
            for r in self.replicas:
                self.env.send(r, Request(self.id, c))
            self.env.set_timer(self.RETRY_AFTER, tag)

    @property
    def done(self) -> bool:
        return self.pending is None and not self.ops

    def history_ops(self) -> list:
        """This client's records in the history format (kv operations only)."""
        out = []
        for rec in self.history:
            op = rec["op"]
            if op[0] not in ("get", "put", "append", "cas"):
                continue
            answered = rec["return"] is not None
            out.append({"client": rec["client"], "call": rec["call"],
                        "return": rec["return"], "op": op_to_json(op),
                        "result": result_to_json(op, rec["result"]) if answered else None})
        return out
