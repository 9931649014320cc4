from __future__ import annotations

import ctypes
import ctypes.util
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")


def _return_large_buffers_to_the_system() -> None:
    """Have glibc serve buffers over 128 KiB with mmap, and so give them back when freed.

    Its default threshold grows after the first large free, after which the page-sized
    buffers of an export come from heap arenas that fragment and are never returned: a
    100,000-case export then grew a worker by about 70 MB instead of about 15 MB
    (docs/benchmarks.md). Same as MALLOC_MMAP_THRESHOLD_=131072; nothing on other libcs.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        mallopt = ctypes.CDLL(libc_name).mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold = -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 128 * 1024)


_return_large_buffers_to_the_system()
application = get_wsgi_application()
