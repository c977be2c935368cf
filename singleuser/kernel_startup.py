# Kernel start-up file (PYTHONSTARTUP): what every student's kernel gets without student action.
#
# IPython kernels run this file at start, in the notebook's namespace (it leaves no names behind). It must stay
# cheap: it never imports TensorFlow. In a kernel (not in a terminal's `python` or `ipython`) it
#
# 1. quiets the native stderr: TensorFlow's C++ code writes its start-up log straight to file descriptor 2,
#    which the kernel forwards to the notebook in red ("failed call to cuInit: UNKNOWN ERROR (303)" reads
#    like a broken setup). A pipe and a daemon thread sit on fd 2: lines of `_COURSE_HARMLESS_LINES` are
#    dropped (still written to the server's log), every other byte goes on unchanged, in the order written to
#    fd 2, at once (an unfinished line that starts like a harmless one waits at most _COURSE_HOLD_SECONDS), and a
#    whole line read at once is passed on in one write. That order is fd 2's own: what Python writes to
#    `sys.stderr` goes to the notebook by another path (ipykernel's own stream, not fd 2), so which of the two
#    comes first is not kept, with this filter or without it (ipykernel reads fd 2 in a thread of its own).
#    TF_CPP_MIN_LOG_LEVEL cannot do this: the cuInit line is an error, so real errors would vanish too;
# 2. makes the kernel, not the student's server, the process the kernel's OOM killer stops (oom_score_adj
#    raised to +500; a process may always raise its own), and when the server's memory cgroup counted an OOM
#    kill since this kernel last started (the kernel the server restarts keeps its id), says so once, on the
#    student's first cell. Each kernel's count at its start is kept in ~/.course/memory.json under its id, so
#    no other kernel's start can take the notice away from the restarted kernel.
#
# In every interpreter it then applies the hub's GPU memory settings right after the notebook's own
# `import tensorflow` (`course.gpu.configure_from_env()`). Whatever fails is skipped: the kernel always starts.
#
# Code that runs after start-up (the filter's thread, the hooks) refers to no name of this file: the file's
# names are deleted from the notebook's namespace once it has run.
#
# (Comments, not a docstring: a docstring would become the notebook's `__doc__`.)

# The known-harmless lines: (name, the line, a line that always follows it, harmless only when this kernel
# can have no GPU). Recorded from TensorFlow 2.21 on a CPU-only server: the first `import tensorflow` writes
# the first three (or the oneDNN line in place of cpu_feature_guard's, by the CPU), the first device query the
# cuInit line. Where a GPU should work (a device is present and
# nothing hides it), the CUDA lines are real errors and are shown.
_COURSE_LOG_HEAD = (r"(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ |\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] )"
                    r"(?:[\w.-]+/)*")
_COURSE_HARMLESS_LINES = (
    ("absl-before-init",
     r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR", None, False),
    ("cpu-feature-guard",
     _COURSE_LOG_HEAD + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU "
     r"instructions in performance-critical operations\.",
     r"To enable the following instructions: [\w ,.]+, in other operations, rebuild TensorFlow with the "
     r"appropriate compiler flags\.", False),
    ("cudart-stub-no-driver",
     _COURSE_LOG_HEAD + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.",
     None, True),
    ("cuinit-no-gpu", _COURSE_LOG_HEAD + r"cuda_platform\.cc:\d+\] failed call to cuInit: .*", None, True),
    # On CPUs where TensorFlow turns oneDNN's custom operations on (AVX-512 ones), in place of cpu_feature_guard.
    ("onednn-on", _COURSE_LOG_HEAD + r"port\.cc:\d+\] oneDNN custom operations are on\. .*", None, False),
)
# An unfinished line that starts like one of them is held back (at most this long) until its end arrives.
_COURSE_HOLD_SECONDS = 0.05
_COURSE_OOM_SCORE = 500
_COURSE_STATE_FILE = "~/.course/memory.json"
_COURSE_KEEP_KERNELS = 100  # the state file keeps the records of this many kernels, the last started
_COURSE_LOCK_SECONDS = 2.0


class _CourseStderrFilter:
    """Sits on a file descriptor: drops whole lines matching `rules`, passes every other byte through in the order
    written to the descriptor (nothing is promised about the order against writes that take another path).

    `rules`: (name, compiled bytes pattern, pattern of the line that follows or None, condition or None): a
    line is dropped when it matches and its condition (asked at that moment) is true. `log_fd`: where the
    dropped lines still go (the server's log), or None. `feed` is the filter itself, without descriptors.
    """

    def __init__(self, rules, fd=2, hold=_COURSE_HOLD_SECONDS, log_fd=None):
        import re

        self.rules, self.fd, self.hold, self.log_fd = tuple(rules), fd, hold, log_fd
        self.heads = (re.compile(rb"[IWE]\d{0,4}(?: .*)?", re.S), re.compile(rb"\d{4}-\d\d-\d\d .*", re.S))
        self.literal_heads = (b"WARNING: All log messages before absl::InitializeLog()",
                              b"To enable the following instructions:")
        self.pending = b""  # an unfinished line that may turn out harmless
        self.midline = False  # what was passed on last ended inside a line (its rest is passed as it is)
        self.follows = None  # the pattern of the line the last dropped line announced
        self.dropped = {}
        self.saved = self.read_end = self.thread = None

    # -- the filter ------------------------------------------------------------------------------------
    def harmless(self, line):
        follows, self.follows = self.follows, None
        if follows is not None and follows.fullmatch(line):
            return True
        for name, pattern, following, condition in self.rules:
            if pattern.fullmatch(line) and (condition is None or condition()):
                self.dropped[name] = self.dropped.get(name, 0) + 1
                self.follows = following
                return True
        return False

    def may_be_harmless(self, start):
        return (any(head.fullmatch(start) for head in self.heads)
                or any(h.startswith(start) or start.startswith(h) for h in self.literal_heads))

    def feed(self, data):
        """The bytes to pass on now for `data` just read (an unfinished line may be held back)."""
        data = self.pending + data  # self.pending is replaced only at the end: on an error nothing is lost
        out, dropped, start = [], [], 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line, start = data[start:end], end + 1
            if self.midline:
                self.midline, self.follows = False, None
                out.append(line + b"\n")
            elif self.harmless(line):
                dropped.append(line + b"\n")
            else:
                out.append(line + b"\n")
        rest, self.pending = data[start:], b""
        if rest:
            if not self.midline and self.may_be_harmless(rest):
                self.pending = rest
            else:
                out.append(rest)
                self.midline = True
        self.to_log(b"".join(dropped))
        return b"".join(out)

    def release(self):
        """The held-back bytes, given up on (they never became a whole harmless line)."""
        rest, self.pending = self.pending, b""
        if rest:
            self.midline = True
        return rest

    # -- the descriptors ---------------------------------------------------------------------------------
    def install(self):
        """Put a pipe on `fd`, read by a daemon thread that writes what passes to what `fd` was."""
        import atexit
        import os
        import threading

        read_end, write_end = os.pipe()
        try:
            try:
                self.saved, self.read_end = os.dup(self.fd), read_end
                thread = threading.Thread(target=self.run, name="course-stderr-filter", daemon=True)
                thread.start()
            except BaseException:
                for fd in (read_end, self.saved):
                    if fd is not None:
                        os.close(fd)
                self.saved = self.read_end = None
                raise
            self.thread = thread
            os.dup2(write_end, self.fd)  # if this fails, the thread reads the pipe's end and closes its copies
        finally:
            os.close(write_end)
        atexit.register(self.uninstall)
        return self

    def uninstall(self, timeout=0.5):
        """Put `fd` back and pass on what is left in the pipe (at exit)."""
        import os

        if self.saved is None or self.thread is None or not self.thread.is_alive():
            return
        try:
            os.dup2(self.saved, self.fd)
        except OSError:
            return
        self.thread.join(timeout)

    def write(self, fd, data):
        import os

        while data:
            data = data[os.write(fd, data):]

    def to_log(self, data):
        if data and self.log_fd is not None:
            try:
                self.write(self.log_fd, data)
            except OSError:
                self.log_fd = None

    def run(self):
        import os
        import select

        data = b""
        try:
            poll = select.poll()
            poll.register(self.read_end, select.POLLIN)
            while True:
                if self.pending and not poll.poll(self.hold * 1000):
                    self.write(self.saved, self.release())
                    continue
                data = os.read(self.read_end, 65536)
                if not data:
                    break
                passed, data = self.feed(data), b""
                self.write(self.saved, passed)
            self.write(self.saved, self.release())
        except Exception:  # noqa: BLE001 - from now on: no filter, every byte goes through as it is
            self.give_up(data)
        finally:
            for fd in (self.read_end, self.saved):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def give_up(self, unfiltered=b""):
        """Stop filtering: put `fd` back, then pass on what was held, `unfiltered` and the pipe's rest as they are."""
        import os

        try:
            os.dup2(self.saved, self.fd)
        except OSError:
            pass
        try:
            data = self.release() + unfiltered
            while True:
                if data:
                    self.write(self.saved, data)
                data = os.read(self.read_end, 65536)
                if not data:
                    break
        except Exception:  # noqa: BLE001 - nowhere left to write
            pass


def _course_harmless_rules(gpu_expected=None):
    """The compiled rules of _COURSE_HARMLESS_LINES; `gpu_expected()` says whether this kernel could use a GPU
    (default: `course.gpu.gpu_expected`; without it the CUDA lines are never dropped)."""
    import re

    if gpu_expected is None:
        try:
            from course.gpu import gpu_expected
        except Exception:  # noqa: BLE001 - no course library: show the CUDA lines
            def gpu_expected():
                return True

    def no_gpu():
        try:
            return not gpu_expected()
        except Exception:  # noqa: BLE001
            return False

    return [(name, re.compile(line.encode()), re.compile(follows.encode()) if follows else None,
             no_gpu if only_without_gpu else None)
            for name, line, follows, only_without_gpu in _COURSE_HARMLESS_LINES]


def _course_quiet_stderr(fd=2, rules=None, log_fd=None):
    """Install the filter on `fd`; None (and `fd` untouched) when anything fails."""
    try:
        return _CourseStderrFilter(_course_harmless_rules() if rules is None else rules, fd=fd,
                                   log_fd=log_fd).install()
    except Exception:  # noqa: BLE001 - no filter: the kernel starts as it always did
        return None


# --- memory limits: the kernel is the one stopped, and the student is told ---------------------------------


def _course_raise_oom_score(path="/proc/self/oom_score_adj", score=_COURSE_OOM_SCORE):
    """Raise this process's oom_score_adj to `score` (never lower it); True when it is at least that now."""
    try:
        with open(path) as handle:
            current = int(handle.read().strip() or 0)
        if current >= score:
            return True
        with open(path, "w") as handle:
            handle.write(str(score))
        return True
    except (OSError, ValueError):
        return False


def _course_read_limit(path):
    """A memory limit in bytes from memory.max (v2) or memory.limit_in_bytes (v1); None for no limit."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None  # "max"
    limit = int(text)
    return limit if 0 < limit < 2 ** 60 else None  # v1 writes "no limit" as about 2**63


def _course_read_oom_kills(path):
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    except OSError:
        pass
    return None


def _course_memory_cgroup(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """The nearest memory-limited cgroup of this process: (folder, limit in bytes, OOM kills so far), or None.

    cgroup v1: <root>/memory/<path>/memory.limit_in_bytes and `oom_kill N` in memory.oom_control; v2:
    <root>/<path>/memory.max and `oom_kill N` in memory.events. In a container the mount's root is the
    process's own cgroup, so a path that is not under `root` is looked up at the root.
    """
    from pathlib import Path

    root = Path(root)
    try:
        lines = Path(proc_cgroup).read_text().splitlines()
    except OSError:
        return None
    v1 = v2 = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "memory" in parts[1].split(","):
            v1 = parts[2]
        elif parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
    places = []
    if v1 is not None and (root / "memory").is_dir():
        places.append((root / "memory", v1, "memory.limit_in_bytes", "memory.oom_control"))
    if v2 is not None:
        places.append((root, v2, "memory.max", "memory.events"))
    for base, path, limit_file, events_file in places:
        folder = base / path.strip("/")
        if not folder.is_dir():
            folder = base
        while True:
            limit = _course_read_limit(folder / limit_file)
            if limit is not None:
                kills = _course_read_oom_kills(folder / events_file)
                return None if kills is None else (folder, limit, kills)
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return None


def _course_size(limit):
    if limit >= 2 ** 30:
        return f"{limit / 2 ** 30:.1f} GiB"
    return f"{limit / 2 ** 20:.0f} MiB"


def _course_kernel_id(argv=None):
    """This kernel's name for its server: the connection file's (`kernel-<id>.json`, kept across the server's
    restarts of the kernel), from ipykernel or the command line; None when there is none."""
    import os
    import sys

    path = None
    if argv is None:
        try:
            from ipykernel.kernelapp import IPKernelApp

            if IPKernelApp.initialized():
                path = IPKernelApp.instance().connection_file
        except Exception:  # noqa: BLE001 - then from the command line
            path = None
        argv = sys.argv
    if not path:
        for i, arg in enumerate(argv):
            if arg in ("-f", "--f") and i + 1 < len(argv):
                path = argv[i + 1]
            elif arg.startswith(("-f=", "--f=")):
                path = arg.split("=", 1)[1]
    name = os.path.basename(path or "")
    if name.endswith(".json"):
        name = name[:-len(".json")]
    if name.startswith("kernel-"):
        name = name[len("kernel-"):]
    return name or None


class _CourseLock:
    """An exclusive flock on `path` while in the `with` block, given up on after `wait` seconds (then the block
    runs without it: the lock only keeps two kernels starting at once from losing one's record)."""

    def __init__(self, path, wait=_COURSE_LOCK_SECONDS):
        self.path, self.wait, self.fd = path, wait, None

    def __enter__(self):
        import fcntl
        import os
        import time

        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return self
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() >= deadline:
                    return self
                time.sleep(0.01)

    def __exit__(self, *_exc):
        import os

        if self.fd is not None:
            os.close(self.fd)  # also releases the lock
            self.fd = None


def _course_oom_notice(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup", state_file=_COURSE_STATE_FILE,
                       limit_name=None, kernel=None):
    """The student's message when the kernel `kernel` (its id: the same for the kernel its server restarts) was
    stopped past the memory limit; None otherwise, and when there is no limit or no cgroup.

    `state_file` keeps, for the memory-limited cgroup, each kernel's OOM kill count at its start and the count
    already told. A kernel's predecessor was stopped for memory when the count grew since that kernel id last
    started, and the growth was not told yet (a kernel the student restarts after another one's notice says
    nothing). No other kernel's start can take the notice from the restarted one: a kernel started anew (another
    id) only records its own count. With `kernel` None the count is compared with the last start's, any kernel's.
    """
    import json
    import os
    import time
    from pathlib import Path

    found = _course_memory_cgroup(root, proc_cgroup)
    if found is None:
        return None
    folder, limit, kills = found
    state = Path(state_file).expanduser()
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    with _CourseLock(state.with_name(f".{state.name}.lock")):
        try:
            before = json.loads(state.read_text())
            if not isinstance(before, dict) or before.get("cgroup") != str(folder):
                raise ValueError("another cgroup")
            told = int(before.get("oom_kills"))
            kernels = {k: int(v["oom_kills"]) for k, v in (before.get("kernels") or {}).items()}
            started = {k: float(v.get("started", 0)) for k, v in (before.get("kernels") or {}).items()}
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            told, kernels, started = kills, {}, {}  # a new server, or no record: nothing to tell
        if kills < told:  # the cgroup was made anew (its count starts at 0): the records are of another
            told, kernels, started = kills, {}, {}
        if kernel is None:
            grew = kills > told
            told = kills
        else:
            grew = kernel in kernels and kills > kernels[kernel] and kills > told
            if grew:
                told = kills
            kernels[kernel], started[kernel] = kills, time.time()
        kept = sorted(kernels, key=lambda k: started.get(k, 0), reverse=True)[:_COURSE_KEEP_KERNELS]
        record = {"cgroup": str(folder), "oom_kills": told, "limit_bytes": limit,
                  "kernels": {k: {"oom_kills": kernels[k], "started": started.get(k, 0)} for k in sorted(kept)}}
        try:
            partial = state.with_name(f".{state.name}.{os.getpid()}")
            partial.write_text(json.dumps(record) + "\n")
            os.replace(partial, state)
        except OSError:
            pass
    if not grew:
        return None
    named = f" ({limit_name})" if limit_name else ""
    return (f"Your previous kernel was stopped because it used more than {_course_size(limit)}, this server's "
            f"memory limit{named}. Use less data or a smaller batch, and shut down kernels you no longer need. "
            "(메모리 한도를 넘어 이전 커널이 종료되었습니다.)")


def _course_show_once(shell, message):
    """Print `message` to stderr at the start of the student's first cell (an IPython pre_run_cell hook).

    The line and its end in one write: ipykernel sends what stderr holds after 0.2 s, so with `print`, which writes
    the end apart, a kernel slowed down in between showed the message and its end as two outputs."""
    def show(*_info):
        import sys

        try:
            shell.events.unregister("pre_run_cell", show)
        except ValueError:
            pass
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    shell.events.register("pre_run_cell", show)
    return show


# --- GPU memory settings ------------------------------------------------------------------------------------


def _course_install_gpu_hook(module_name="tensorflow", apply=None):
    import importlib.abc
    import os
    import sys

    try:
        from course import settings
    except Exception:  # noqa: BLE001 - a kernel without the course library: nothing to apply
        return None
    if not any(os.environ.get(s.name) for s in (settings.GPU_MEMORY_GROWTH, settings.GPU_MEMORY_LIMIT_MB)):
        return None

    def _apply():
        try:
            from course import gpu
            configure = getattr(gpu, "configure_from_env", None)
            if configure is not None:
                configure()
        except Exception:  # noqa: BLE001 - never break a student's import
            pass

    apply = apply or _apply
    if module_name in sys.modules:
        apply()
        return None

    class _AfterImport(importlib.abc.MetaPathFinder):
        """Runs `apply` right after `module_name` has finished importing (once)."""

        def find_spec(self, fullname, path=None, target=None):
            if fullname != module_name:
                return None
            sys.meta_path.remove(self)
            from importlib.util import find_spec

            spec = find_spec(fullname)
            if spec is None or spec.loader is None:
                return spec
            loader = spec.loader
            exec_module = loader.exec_module

            def exec_then_apply(module):
                exec_module(module)
                apply()

            try:
                loader.exec_module = exec_then_apply
            except (AttributeError, TypeError):
                return spec
            return spec

    finder = _AfterImport()
    sys.meta_path.insert(0, finder)
    return finder


# --- start-up -------------------------------------------------------------------------------------------


def _course_kernel_shell():
    """The IPython shell of a Jupyter kernel (ipykernel), or None in any other interpreter."""
    import sys

    if "ipykernel" not in sys.modules:
        return None
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:  # noqa: BLE001
        return None
    return shell if shell is not None and type(shell).__module__.startswith("ipykernel") else None


def _course_server_log_fd():
    """The descriptor of the kernel's own stderr before ipykernel captured it (the server's log), or None."""
    import sys

    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    return fd if isinstance(fd, int) else None


def _course_start(shell=None, cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """Everything above, each part on its own (one failing skips only itself)."""
    shell = _course_kernel_shell() if shell is None else shell
    if shell is not None:
        _course_quiet_stderr(log_fd=_course_server_log_fd())
        _course_raise_oom_score()
        try:
            import os

            from course import settings

            grading, limit_name = settings.GRADING.read_or_default(os.environ)[0], settings.MEM_LIMIT.name
        except Exception:  # noqa: BLE001 - no course library: the message names no setting
            grading, limit_name = False, None
        try:
            notice = None if grading else _course_oom_notice(cgroup_root, proc_cgroup, limit_name=limit_name,
                                                             kernel=_course_kernel_id())
            if notice:
                _course_show_once(shell, notice)
        except Exception:  # noqa: BLE001 - the notice is a courtesy
            pass
    _course_install_gpu_hook()


def _course_forget(namespace):
    """Delete this file's names (`_course_*`, `_COURSE_*`, `_Course*`) from `namespace`, the notebook's."""
    for name in [n for n in namespace if n.lower().startswith("_course")]:
        del namespace[name]


if __name__ == "__main__":  # run as a start-up file (IPython executes it as __main__, in the user's namespace)
    _course_start()
    _course_forget(globals())
