"""A student's server: a kernel it restarts on its own (the old one died, e.g. past the memory limit) is reported
as starting until the new one answers, never as what the dead one last was.

Loaded by `jupyter_server_config.py` (by path: the folder is copied as it is, not installed) as the server's
kernel manager class. Why: Jupyter Server keeps a kernel's `execution_state` from its iopub messages, and after
an automatic restart nothing resets it. A kernel killed while running a cell stays "busy" in the REST API, and a
browser that connects then is not "nudged" (the server skips the check that the connection's iopub subscription
is in place for a busy kernel): the student's first cell is forwarded at once, and what the new kernel
publishes before the subscription arrives is lost. The first thing it publishes for that cell is the start-up
file's "Your previous kernel was stopped ..." line (singleuser/kernel_startup.py). The stale "busy" also kept
the server's idle-kernel culler away from the restarted kernel (cull_busy is off).

So, on each automatic restart: the kernel is "starting" (what the server says of a kernel it has just started),
and the server asks the new kernel for its kernel_info until its activity watcher has seen it answer, which
makes it "idle". A connection opened meanwhile waits for the kernel and checks its subscription first.
"""
from __future__ import annotations

import asyncio
from functools import partial

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float


class CourseKernelManager(AsyncMappingKernelManager):
    """The server's kernel manager, with honest states after automatic restarts."""

    restart_ping_interval = Float(0.5, config=True,
                                  help="Seconds between kernel_info requests to a kernel that was restarted")

    def start_watching_activity(self, kernel_id):
        super().start_watching_activity(kernel_id)
        kernel = self.get_kernel(kernel_id)
        if not getattr(kernel, "_course_watches_restarts", False):  # called again after a restart on new ports
            kernel._course_watches_restarts = True
            # Registered before any connection's own callback: the state is set before "restarting" is sent.
            kernel.add_restart_callback(partial(self._on_kernel_restarting, kernel_id), "restart")

    def _on_kernel_restarting(self, kernel_id):
        """The restarter found the kernel dead and starts a new one now (a restart callback)."""
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        kernel.execution_state = "starting"
        previous = getattr(kernel, "_course_settling", None)
        if previous is not None:
            previous.cancel()
        kernel._course_settling = asyncio.ensure_future(self._settle_restarted_kernel(kernel_id, list(kernel.ports)))

    async def _settle_restarted_kernel(self, kernel_id, ports_before):
        """Ask the restarted kernel for its kernel_info until the activity watcher has seen it answer (the state
        is then "idle") or a client's message has made it something else; give up after kernel_info_timeout."""
        kernel = self._kernels.get(kernel_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.kernel_info_timeout
        channel = None
        try:
            while (self._kernels.get(kernel_id) is kernel and kernel.execution_state == "starting"
                   and loop.time() < deadline):
                if await ensure_async(kernel.is_alive()):
                    if list(kernel.ports) != ports_before:  # restarted on new ports: watch those
                        ports_before = list(kernel.ports)
                        self.stop_watching_activity(kernel_id)
                        self.start_watching_activity(kernel_id)
                        if channel is not None:
                            channel.close()
                            channel = None
                    if channel is None:
                        channel = kernel.connect_shell()
                    kernel.session.send(channel, "kernel_info_request")
                await asyncio.sleep(self.restart_ping_interval)
            if self._kernels.get(kernel_id) is kernel and kernel.execution_state == "starting":
                self.log.warning("Kernel %s: no answer %.0f s after its restart", kernel_id, self.kernel_info_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the state only stays as it was
            self.log.warning("Kernel %s: could not follow its restart", kernel_id, exc_info=True)
        finally:
            if channel is not None and not channel.closed():
                channel.close()
            if getattr(kernel, "_course_settling", None) is asyncio.current_task():
                kernel._course_settling = None
