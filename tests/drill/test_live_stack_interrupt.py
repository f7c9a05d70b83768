"""A Ctrl-C the live drill was asked to stop by is not lost when its KeyboardInterrupt is (CI, under load: one
went unheard and the drill ran on). Python raises it at whatever bytecode runs next; inside a finaliser it is
printed and dropped. The drill's loop polls `LiveStack.check`, which raises it again."""
from __future__ import annotations

import os
import signal
import time

import pytest

from mobilize.drill.live_stack import LiveStack, terminate_as_interrupt


class _Finaliser:
    """Sends the signal while its `__del__` runs: the handler's KeyboardInterrupt is raised there and dropped."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        time.sleep(0.05)  # the handler runs within this call


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped interrupt, on purpose
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_lost_in_a_finaliser_still_stops_the_live_drill_at_its_next_poll(tmp_path, signum):
    stack = LiveStack.in_folder(tmp_path)
    before = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)}  # (xdist ignores SIGINT)
    with terminate_as_interrupt():
        finaliser = _Finaliser(signum)
        del finaliser  # the interrupt happens and is lost here: nothing raised
        with pytest.raises(KeyboardInterrupt):
            stack.check()
        stack.check()  # acted on once: the next poll goes on
    assert {each: signal.getsignal(each) for each in before} == before  # both put back
