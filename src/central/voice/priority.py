"""How the voice process asks the kernel for timely CPU without a real-time class.

Kept free of Django so the capacity bench's client (bench/audiosocket_load.py) reads the
same value ``central voice`` uses.
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct

log = logging.getLogger(__name__)

#: The scheduler slice ``central voice`` asks for, in microseconds (``CENTRAL_VOICE_SLICE_US``
#: overrides it; 0 leaves the kernel's default).  See :func:`request_short_slice`.
VOICE_SLICE_US = 300
#: sched_setattr(2) on x86-64 and arm64 (asm-generic/unistd.h: 274 on arm64).
_SYS_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
#: struct sched_attr, SCHED_ATTR_SIZE_VER1 (include/uapi/linux/sched/types.h).
_SCHED_ATTR = struct.Struct("=IIQiIQQQII")


def request_short_slice(microseconds: int) -> bool:
    """Ask the kernel's fair scheduler (EEVDF, Linux 6.12+) for a short time slice.

    A task with a shorter slice than the one running preempts it when it wakes, instead of
    waiting for that task's slice to end: the pacer's timer fires on time even when the
    voice process shares its core, with no real-time class and no privilege (any process
    may set its own slice).  It does not buy CPU share: that is ``Nice=``/``CPUWeight=``
    (README, "Capacity").  Older kernels accept the call and ignore the value.  Returns
    whether the kernel took it.
    """
    number = _SYS_SCHED_SETATTR.get(os.uname().machine)
    if not microseconds or number is None:
        return False
    policy = os.sched_getscheduler(0)
    if policy not in (os.SCHED_OTHER, getattr(os, "SCHED_BATCH", -1)):
        return False  # SCHED_FIFO/RR have no slice; leave them alone
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    attr = _SCHED_ATTR.pack(_SCHED_ATTR.size, policy, 0, nice, 0, microseconds * 1000, 0, 0, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, ctypes.create_string_buffer(attr), 0) != 0:
        log.info("voice: no short scheduler slice: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def configured_slice_us() -> int:
    """``CENTRAL_VOICE_SLICE_US`` when set to a whole number, else :data:`VOICE_SLICE_US`."""
    try:
        return max(0, int(os.environ.get("CENTRAL_VOICE_SLICE_US", VOICE_SLICE_US)))
    except ValueError:
        return VOICE_SLICE_US
