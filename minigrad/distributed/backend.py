"""What every transport implements (the flat collectives), the Work handle, and the deadline wait they share.

A backend moves raw contiguous arrays; ``c10d.py`` turns torch's tensor-level calls into these. Every wait
goes through ``Backend.wait``: it polls the request instead of blocking in it, so a peer that died or
raised is noticed (``FailureDetector``) and a collective that never completes ends with an error after the
group's timeout instead of hanging the job.
"""
from __future__ import annotations

import enum
import time
from typing import Callable

from ..backend import get_array_module

__all__ = ["Backend", "DistBackendError", "DistError", "FailureDetector", "RedOpType", "ReduceOp", "Work"]

SPIN_S = 0.01  # how long a wait polls MPI without sleeping (see Backend.wait)


class RedOpType(enum.IntEnum):
    """torch's reduction codes, with torch's numbering."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __str__(self):  # torch prints RedOpType.SUM (IntEnum's str would be "0")
        return f"RedOpType.{self.name}"


class ReduceOp:
    """``dist.ReduceOp.SUM`` etc., as torch spells them."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


class DistError(RuntimeError):
    """torch.distributed.DistError: the base of the package's runtime errors."""


class DistBackendError(DistError):
    """A collective failed: a peer died or raised, the transport reported an error, or the timeout passed."""


def check_launcher(world_size, rank, launched_world_size: int, launched_rank: int) -> None:
    """init_process_group's world_size/rank are optional under a launcher, but must agree with it if given."""
    for given, actual, what in ((world_size, launched_world_size, "world_size"), (rank, launched_rank, "rank")):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"{what}={given} was passed, but the launcher (mpiexec) started this process with "
                             f"{what} {actual}")


class Work:
    """A collective in flight (torch.distributed.Work): ``wait()`` blocks until done, ``is_completed()`` polls.

    ``test`` says whether the transport has finished; ``finish`` then runs once (copy out of a staging buffer,
    divide for AVG). The result lives in the tensors passed to the collective, as in torch.
    """

    def __init__(self, backend: Backend, what: str, test: Callable[[], bool],
                 finish: Callable[[], None] | None = None):
        self._backend = backend
        self.what = what
        self._test = test
        self._finish = [finish] if finish is not None else []
        self._done = False
        self._exception: BaseException | None = None

    def then(self, finish: Callable[[], None]) -> Work:
        """Run ``finish`` after the transport's own completion steps (used for copy-back by c10d)."""
        self._finish.append(finish)
        return self

    def poll(self) -> bool:
        """Advance the transport once; True (after running the finish steps) when the collective is done."""
        if not self._done and self._test():
            self._done = True
            for step in self._finish:
                step()
        return self._done

    def is_completed(self) -> bool:
        return self.poll()

    def is_success(self) -> bool:
        return self._done and self._exception is None

    def exception(self) -> BaseException | None:
        return self._exception

    def wait(self, timeout=None) -> bool:
        """Block until done; raise DistBackendError if a peer fails or the group's timeout (or ``timeout``) passes."""
        if not self._done:
            seconds = None if timeout is None else getattr(timeout, "total_seconds", lambda: timeout)()
            try:
                self._backend.wait(self, seconds)
            except BaseException as error:
                self._exception = error
                raise
        return True

    def synchronize(self) -> None:
        self.wait()

    def __repr__(self):
        return f"<Work {self.what} {'completed' if self._done else 'pending'}>"


class FailureDetector:
    """How a backend learns that a peer is gone. This base knows nothing (only the timeout will fire);
    the MPI control plane (``control.py``) overrides every method."""

    def check(self) -> None:
        """Raise DistBackendError naming the rank if a peer reported a failure or was seen to die."""

    def unresponsive(self, grace: float) -> list[int] | None:  # noqa: ARG002  (the interface)
        """Ranks that did not answer a liveness ping within ``grace`` seconds, or None when unknown."""
        return None

    def notify(self, message: str) -> None:
        """Tell every peer that this rank is failing, so they stop at once instead of at their timeout."""

    def relay(self, error: DistBackendError) -> None:
        """Pass on a failure this rank detected in a peer (``error.failed_rank``) before this rank exits."""

    def linger(self, seconds: float) -> None:
        """Give the peers a moment to report before this failed rank exits (and its launcher kills them)."""

    def close(self) -> None:
        pass


class Backend:
    """The flat collectives on contiguous arrays, each returning a Work; subclasses: MPIBackend, NCCLBackend.

    Buffers: ``all_gather``'s output and ``reduce_scatter``'s input hold ``world_size`` equal chunks back to
    back; ``gather``/``scatter`` use the same layout on the root (None elsewhere). ``AVG`` is handled by the
    backend (NCCL natively, MPI as SUM then divide).
    """

    name = "undefined"
    supported_ops = frozenset(RedOpType) - {RedOpType.PREMUL_SUM}

    def __init__(self, rank: int, world_size: int, timeout: float, detector: FailureDetector | None = None):
        self.rank = rank
        self.world_size = world_size
        self.timeout = float(timeout)
        self.detector = detector or FailureDetector()
        self.broken: BaseException | None = None  # the first failure: later calls re-raise it at once
        self.sequence = 0  # collectives issued so far, named in error messages as torch's watchdog does

    # ---- where the transport's buffers live
    def stage(self, array):
        """``array`` where the transport can read it (a copy when it lives elsewhere): the host for MPI,
        the GPU for NCCL. c10d copies results back into the caller's tensor."""
        return array

    def array_module(self, array):
        """The array module for new buffers of this transport (numpy for MPI, cupy for NCCL)."""
        return get_array_module(array)

    # ---- the transport: one method per collective
    def all_reduce(self, array, op: RedOpType) -> Work:
        raise NotImplementedError

    def broadcast(self, array, root: int) -> Work:
        raise NotImplementedError

    def all_gather(self, output, input) -> Work:
        raise NotImplementedError

    def reduce_scatter(self, output, input, op: RedOpType) -> Work:
        raise NotImplementedError

    def reduce(self, array, root: int, op: RedOpType) -> Work:
        raise NotImplementedError

    def gather(self, output, input, root: int) -> Work:
        raise NotImplementedError

    def scatter(self, output, input, root: int) -> Work:
        raise NotImplementedError

    def barrier(self) -> Work:
        raise NotImplementedError

    def abort(self) -> None:
        """Cancel whatever is in flight after a failure, so the process can exit."""

    def shutdown(self) -> None:
        self.detector.close()

    # ---- shared logic
    def start(self, what: str) -> str:
        """Check the group is usable and number the collective; returns the name used in errors."""
        if self.broken is not None:
            raise DistBackendError(f"[rank {self.rank}] the process group is unusable after an earlier failure: "
                                   f"{self.broken}")
        self.sequence += 1
        return f"{what} (collective #{self.sequence})"

    def fail(self, message: str) -> DistBackendError:
        """Mark the group broken, cancel what is in flight, and return the error to raise."""
        error = DistBackendError(f"[rank {self.rank}] {message}")
        error.peer_failure = True  # minigrad's own detection: the excepthook does not re-broadcast it
        self.broken = error
        self.abort()
        return error

    def wait(self, work: Work, timeout: float | None = None) -> None:
        """Poll ``work`` until done, checking peers on the way; the deadline is the group timeout."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        pause, started = 0.0, time.monotonic()
        while True:
            try:
                if work.poll():
                    return
                self.detector.check()
            except DistBackendError as error:
                if self.broken is not None:
                    raise
                failure = self.fail(f"{work.what} failed: {error}")
                self.detector.relay(error)
                raise failure from None
            except Exception as error:  # the transport itself reported an error (e.g. an MPI error class)
                raise self.fail(f"{work.what} failed in the {self.name} transport: {error}") from error
            if time.monotonic() > deadline:
                raise self.fail(self._timeout_message(work, timeout))
            # MPI moves a large message in pieces, each only when a rank calls into MPI: poll without
            # sleeping for the first SPIN_S (a transfer's duration), then back off to 1 ms naps so a rank
            # waiting for a slow peer does not steal the CPU that peer computes on
            if time.monotonic() - started > SPIN_S:
                pause = min(pause * 2 or 2e-5, 1e-3)
            time.sleep(pause)  # sleep(0) while spinning: yields the core if another process wants it

    def _timeout_message(self, work: Work, timeout: float) -> str:
        silent = self.detector.unresponsive(grace=min(2.0, max(timeout / 4, 0.2)))
        if silent is None:
            detail = "some rank did not reach this collective (a crash, a hang, or mismatched collective calls)"
        elif silent:
            detail = (f"rank(s) {silent} did not answer a liveness ping: they died, hang, or are busy outside "
                      f"collectives")
        else:
            detail = ("every rank answered a liveness ping, so all are alive: they likely called different "
                      "collectives or passed mismatched sizes")
        return f"{work.what} timed out after {timeout:g} s; {detail}"
