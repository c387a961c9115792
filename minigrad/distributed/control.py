"""The MPI control plane: failure notices, liveness pings and local death checks, on a private communicator.

It runs beside the data traffic (its own duplicate of COMM_WORLD, so control messages never match a
collective) and is polled only from inside ``Backend.wait``: single-threaded, no watchdog thread.

- A rank that raises broadcasts a FAILURE notice from its excepthook; peers stop at once, naming it.
- A rank that dies is seen by the peers on the same host within ``PID_CHECK_S`` (its pid is gone or a zombie).
- A rank on another host that dies or hangs shows up when the timeout fires: peers ping everyone and name
  the ranks that did not answer.
"""
from __future__ import annotations

import contextlib
import os
import socket
import time

from .backend import DistBackendError, FailureDetector

FAILURE, PING, PONG = 901, 902, 903  # tags on the control communicator
PID_CHECK_S = 0.2
NOTIFY_S = 3.0


def _pid_dead(pid: int) -> bool:
    """True if ``pid`` is gone or a zombie (killed but not yet reaped by the launcher)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


class MPIControl(FailureDetector):
    """Failure detection for a group of MPI processes (used by both the MPI and the NCCL backends)."""

    def __init__(self, world_comm, MPI):
        self.MPI = MPI
        self.comm = world_comm.Dup()
        self.comm.Set_errhandler(MPI.ERRORS_RETURN)  # a dead peer must give an error, not abort this process
        self.rank = self.comm.Get_rank()
        self.peers = self.comm.allgather((socket.gethostname(), os.getpid()))
        host = self.peers[self.rank][0]
        self.local = {r: pid for r, (h, pid) in enumerate(self.peers) if h == host and r != self.rank}
        self._next_pid_check = 0.0
        self._round = 0
        self._answered: set[int] = set()
        self._sends = []  # isend requests kept alive until complete

    def check(self) -> None:
        self._serve()
        now = time.monotonic()
        if self.local and now >= self._next_pid_check:
            self._next_pid_check = now + PID_CHECK_S
            for r, pid in self.local.items():
                if _pid_dead(pid):
                    self._serve(drain_s=0.1)  # a notice sent just before it exited names the cause
                    raise self._peer_error(r, "died without reporting an error (killed, crashed, or exited early)")

    def _peer_error(self, rank: int, what: str) -> DistBackendError:
        host, pid = self.peers[rank]
        error = DistBackendError(f"rank {rank} (pid {pid} on {host}) {what}")
        error.failed_rank, error.cause = rank, what
        return error

    def _serve(self, drain_s: float = 0.0) -> None:
        """Read every pending control message: raise on a failure notice, answer pings, record pongs.
        With ``drain_s``, keep listening that long for messages still in transit."""
        MPI = self.MPI
        status = MPI.Status()
        deadline = time.monotonic() + drain_s
        while True:
            if not self.comm.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, status):
                if time.monotonic() >= deadline:
                    break
                time.sleep(1e-3)
                continue
            source, tag = status.Get_source(), status.Get_tag()
            message = self.comm.recv(source=source, tag=tag)
            if tag == FAILURE:
                origin, text = message
                relayed = f" (relayed by rank {source})" if origin != source else ""
                raise self._peer_error(origin, f"failed: {text}{relayed}")
            if tag == PING:
                self._send(message, source, PONG)
            elif tag == PONG and message == self._round:
                self._answered.add(source)
        self._sends = [r for r in self._sends if not r.Test()]

    def _send(self, message, dest: int, tag: int, synchronous: bool = False) -> None:
        try:
            send = self.comm.issend if synchronous else self.comm.isend
            self._sends.append(send(message, dest=dest, tag=tag))
        except self.MPI.Exception:
            pass  # the peer is gone: nothing to tell it

    def unresponsive(self, grace: float) -> list[int]:
        self._round += 1
        self._answered = set()
        others = [r for r in range(len(self.peers)) if r != self.rank]
        for r in others:
            self._send(self._round, r, PING)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and len(self._answered) < len(others):
            self.check()
            time.sleep(1e-3)
        return [r for r in others if r not in self._answered]

    def notify(self, message: str, origin: int | None = None, skip: tuple = (), wait_s: float = NOTIFY_S) -> None:
        origin = self.rank if origin is None else origin
        for r in range(len(self.peers)):
            if r not in (self.rank, origin, *skip):
                self._send((origin, message), r, FAILURE, synchronous=True)
        # synchronous sends complete only once received: peers poll while they wait in a collective, so
        # this is quick; a peer busy computing gets a few seconds before this rank exits regardless
        deadline = time.monotonic() + wait_s
        while self._sends and time.monotonic() < deadline:
            self._sends = [r for r in self._sends if not r.Test()]
            time.sleep(1e-3)

    def relay(self, error: DistBackendError) -> None:
        """Pass a peer's failure on before this rank exits, so later ranks blame the origin, not this rank."""
        rank = getattr(error, "failed_rank", None)
        if rank is not None:
            self.notify(error.cause, origin=rank, wait_s=0.5)

    def linger(self, seconds: float) -> None:
        """Before a failed rank exits: wait (up to ``seconds``) for the local peers to exit first. A launcher
        such as hydra kills every rank once one leaves without MPI_Finalize, which would cut the peers off
        before they have printed which rank failed."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not all(_pid_dead(pid) for pid in self.local.values()):
            with contextlib.suppress(DistBackendError):
                self._serve()
            time.sleep(0.01)

    def close(self) -> None:
        for request in self._sends:
            try:
                request.Cancel()
            except self.MPI.Exception:
                pass
        self._sends = []
        try:
            self.comm.Free()
        except self.MPI.Exception:
            pass
