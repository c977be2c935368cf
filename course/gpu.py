"""GPU helpers: what TensorFlow sees, memory settings for shared GPUs, and the classic CPU-vs-GPU benchmark.

TensorFlow is imported inside the functions, so ``import course.gpu`` stays fast.
"""

from __future__ import annotations

import glob
import numbers
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from course import settings

__all__ = [
    "ConvBenchmark",
    "DeviceState",
    "GpuInfo",
    "configure_from_env",
    "conv_benchmark",
    "device_line",
    "device_state",
    "device_summary",
    "enable_memory_growth",
    "gpu_expected",
    "gpu_info",
    "limit_gpu_memory",
    "require_gpu",
]

GROWTH_VAR = settings.GPU_MEMORY_GROWTH.name
LIMIT_VAR = settings.GPU_MEMORY_LIMIT_MB.name
TF_GROWTH_VAR = settings.TF_FORCE_GPU_ALLOW_GROWTH.name  # read by TensorFlow itself when it sets up a GPU
VISIBLE_VAR = settings.CUDA_VISIBLE_DEVICES.name
NVIDIA_VAR = settings.NVIDIA_VISIBLE_DEVICES.name
POLICY_VAR = settings.GPU_POLICY.name
NOTICE_VAR = settings.GPU_NOTICE.name
_MIB = 1024 * 1024

# The classic tutorial ("Using GPUs"): 32 filters of 7x7x3 over 100 random 100x100x3 images, sum of 10 runs.
# It printed these two times; the speed-up is what they imply, not a figure of its own.
CLASSIC_CPU_SECONDS = 8.228
CLASSIC_GPU_SECONDS = 0.183
CLASSIC_SPEEDUP = CLASSIC_CPU_SECONDS / CLASSIC_GPU_SECONDS


def _warn(message: str) -> None:
    """One-line warning on stderr (also visible in a notebook)."""
    print(f"course.gpu: {message}", file=sys.stderr, flush=True)


# --- what TensorFlow sees -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as TensorFlow numbers it; memory in MiB from NVML (None when NVML is unavailable)."""

    index: int
    name: str
    memory_total_mb: int | None = None
    memory_used_mb: int | None = None

    def __str__(self) -> str:
        if self.memory_total_mb is None:
            memory = "memory unknown (install nvidia-ml-py to see it)"
        elif self.memory_used_mb is None:
            memory = f"{self.memory_total_mb} MiB"
        else:
            memory = f"{self.memory_used_mb} / {self.memory_total_mb} MiB used"
        return f"GPU {self.index}: {self.name}, {memory}"


def _tf_gpus() -> list[Any]:
    import tensorflow as tf

    return list(tf.config.list_physical_devices("GPU"))


def _tf_device_name(device: Any) -> str | None:
    try:
        import tensorflow as tf

        name = tf.config.experimental.get_device_details(device).get("device_name")
        return str(name) if name else None
    except Exception:
        return None


def _visible_entries(environ: Mapping[str, str]) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES as a list, or None when unset (then TensorFlow index = NVML index)."""
    value = environ.get(VISIBLE_VAR)
    if value is None or not value.strip():
        return None
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def _nvml_memory(count: int, nvml: Any = None,
                 environ: Mapping[str, str] | None = None) -> list[tuple[str | None, int | None, int | None]]:
    """(name, total MiB, used MiB) for TensorFlow's GPUs 0..count-1, from NVML; Nones where unknown.

    ``nvml`` is the ``pynvml`` module (imported when None). NVML numbers all GPUs of the machine, so
    CUDA_VISIBLE_DEVICES (indices or GPU-/MIG- UUIDs) maps TensorFlow's index to NVML's.
    """
    unknown: list[tuple[str | None, int | None, int | None]] = [(None, None, None)] * count
    if count == 0:
        return unknown
    if nvml is None:
        try:
            import pynvml as nvml  # package nvidia-ml-py
        except Exception:
            return unknown
    entries = _visible_entries(os.environ if environ is None else environ)
    try:
        nvml.nvmlInit()
    except Exception:  # no driver / library: memory stays unknown
        return unknown
    result = []
    try:
        for index in range(count):
            try:
                if entries is None:
                    handle = nvml.nvmlDeviceGetHandleByIndex(index)
                elif index >= len(entries):
                    raise LookupError(index)
                elif entries[index].isdigit():
                    handle = nvml.nvmlDeviceGetHandleByIndex(int(entries[index]))
                else:
                    handle = nvml.nvmlDeviceGetHandleByUUID(entries[index])
                name = nvml.nvmlDeviceGetName(handle)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                name = name.decode() if isinstance(name, bytes) else str(name)
                result.append((name, int(memory.total) // _MIB, int(memory.used) // _MIB))
            except Exception:
                result.append((None, None, None))
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
    return result


def gpu_info(devices: Sequence[Any] | None = None, nvml: Any = None) -> list[GpuInfo]:
    """The GPUs TensorFlow sees, with memory from NVML when ``nvidia-ml-py`` is installed.

    ``devices`` defaults to ``tf.config.list_physical_devices('GPU')``; ``nvml`` to the ``pynvml`` module.
    """
    gpus = _tf_gpus() if devices is None else list(devices)
    memory = _nvml_memory(len(gpus), nvml)
    infos = []
    for index, (device, (nvml_name, total, used)) in enumerate(zip(gpus, memory)):
        name = _tf_device_name(device) or nvml_name or str(getattr(device, "name", device))
        infos.append(GpuInfo(index=index, name=name, memory_total_mb=total, memory_used_mb=used))
    return infos


def _no_gpu_message(environ: Mapping[str, str], built_with_cuda: bool | None, error: str | None) -> str:
    visible = environ.get(VISIBLE_VAR)
    visible_note = "unset (fine)" if visible is None else f"{visible!r}"
    if visible is not None and visible.strip() in ("", "-1"):
        visible_note += " -- this hides every GPU: unset it and restart the kernel"
    lines = [
        "TensorFlow sees no GPU (TensorFlow이 GPU를 찾지 못했습니다).",
        "This chapter still runs on the CPU, only slower: you can keep going (CPU에서도 실행됩니다. 다만 느립니다).",
        "What to check:",
        "  1. Run `!nvidia-smi` in a cell (or `nvidia-smi` in a terminal). 'command not found' or no GPU listed",
        "     means this server has no GPU.",
        "  2. The server's container must be started with GPUs (docker --gpus / NVIDIA Container Toolkit). The",
        "     course hub's GPU policy may have given you a CPU-only server.",
        f"  3. {VISIBLE_VAR} is {visible_note}.",
    ]
    if built_with_cuda is False:
        lines.append("  4. This TensorFlow is built without CUDA: pip install 'tensorflow[and-cuda]' on a GPU machine.")
    else:
        lines.append("  4. If nvidia-smi shows a GPU but TensorFlow doesn't, restart the kernel; if it persists,")
        lines.append("     tell the instructor (driver/CUDA mismatch).")
    if error:
        lines.append(f"  (TensorFlow said: {error})")
    lines += [
        "To get a GPU server: ask your instructor (강사) to give your account GPU access, then restart your",
        "server from the hub: File > Hub Control Panel > Stop My Server, then Start My Server.",
    ]
    return "\n".join(lines)


def require_gpu(devices: Sequence[Any] | None = None) -> bool:
    """True when TensorFlow sees a GPU; otherwise prints what to check and returns False (never raises)."""
    error = None
    try:
        gpus = _tf_gpus() if devices is None else list(devices)
    except Exception as exc:  # a broken install must still give advice, not a traceback
        gpus, error = [], f"{type(exc).__name__}: {exc}".splitlines()[0]
    if gpus:
        return True
    try:
        import tensorflow as tf

        built_with_cuda: bool | None = bool(tf.test.is_built_with_cuda())
    except Exception:
        built_with_cuda = None
    print(_no_gpu_message(os.environ, built_with_cuda, error), flush=True)
    return False


# --- memory settings (before TensorFlow initialises the GPUs) -----------------------------------------


def enable_memory_growth(devices: Sequence[Any] | None = None) -> int:
    """Let TensorFlow take GPU memory as needed instead of all of it; returns the number of GPUs set.

    Call it first, before any other TensorFlow work; too late gives a one-line warning and returns 0.
    """
    import tensorflow as tf

    gpus = _tf_gpus() if devices is None else list(devices)
    if gpus and os.environ.get(TF_GROWTH_VAR, "").lower() == "true":
        return len(gpus)  # TensorFlow already grows memory on every GPU
    configured = 0
    for gpu in gpus:
        try:
            if not tf.config.experimental.get_memory_growth(gpu):
                tf.config.experimental.set_memory_growth(gpu, True)
            configured += 1
        except RuntimeError:
            _warn("memory growth not set: TensorFlow already started using the GPU. Call "
                  "enable_memory_growth() before any other TensorFlow code (Kernel > Restart, then run it first).")
            return 0
        except ValueError:
            # A memory limit (virtual device) is set on this GPU; TensorFlow's own switch still applies.
            os.environ[TF_GROWTH_VAR] = "true"
            configured += 1
    return configured


def _check_megabytes(megabytes: Any, name: str = "megabytes") -> int:
    if isinstance(megabytes, bool) or not isinstance(megabytes, numbers.Integral) or megabytes <= 0:
        raise ValueError(f"{name} must be a whole number of MB above 0, e.g. limit_gpu_memory(4096); got {megabytes!r}")
    return int(megabytes)


def limit_gpu_memory(megabytes: int, devices: Sequence[Any] | None = None) -> int:
    """Cap TensorFlow's memory on each GPU at ``megabytes`` MB; returns the number of GPUs capped.

    The hub's per-student cap (COURSE_GPU_MEMORY_LIMIT_MB) is an upper bound. Call it before any other
    TensorFlow work; too late gives a one-line warning and returns 0.
    """
    megabytes = _check_megabytes(megabytes)
    cap = settings.GPU_MEMORY_LIMIT_MB.read_or_default(os.environ)[0]
    if cap is not None and megabytes > cap:
        _warn(f"{megabytes} MB is above this server's GPU memory cap; using {cap} MB ({LIMIT_VAR}).")
        megabytes = cap
    import tensorflow as tf

    gpus = _tf_gpus() if devices is None else list(devices)
    config = [tf.config.LogicalDeviceConfiguration(memory_limit=megabytes)]
    for count, gpu in enumerate(gpus):
        try:
            tf.config.set_logical_device_configuration(gpu, config)
        except RuntimeError:
            _warn("GPU memory limit not set: TensorFlow already started using the GPU. Call "
                  "limit_gpu_memory() before any other TensorFlow code (Kernel > Restart, then run it first).")
            return count
    return len(gpus)


@dataclass(frozen=True)
class GpuSettings:
    """What COURSE_GPU_MEMORY_GROWTH / COURSE_GPU_MEMORY_LIMIT_MB ask for, plus one warning per bad value."""

    memory_growth: bool
    memory_limit_mb: int | None
    warnings: tuple[str, ...] = ()


def settings_from_env(environ: Mapping[str, str] | None = None) -> GpuSettings:
    """Read the hub's GPU settings; bad values fall back to the defaults with a warning naming the variable."""
    environ = os.environ if environ is None else environ
    growth, growth_warning = settings.GPU_MEMORY_GROWTH.read_or_default(environ)
    limit, limit_warning = settings.GPU_MEMORY_LIMIT_MB.read_or_default(environ)
    return GpuSettings(growth, limit, tuple(w for w in (growth_warning, limit_warning) if w))


def _gpu_device_files() -> bool:
    """True when the kernel exposes an NVIDIA (or WSL) GPU device; without one no GPU can be used."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/dxg"))


def _hides_every_gpu(value: str | None) -> bool:
    """CUDA_VISIBLE_DEVICES set to nothing (or -1, the old idiom): CUDA sees no GPU at all."""
    return value is not None and value.strip() in ("", "-1")


def gpu_expected(environ: Mapping[str, str] | None = None, device_files: bool | None = None) -> bool:
    """True when this process could use a GPU: a GPU device is present and no variable hides it.

    Cheap (no TensorFlow): the kernel start-up file asks it to tell TensorFlow's harmless "no GPU"
    start-up lines (expected here) from the same lines on a machine whose GPU should work (a real error).
    """
    environ = os.environ if environ is None else environ
    if (environ.get(NVIDIA_VAR) or "").strip() == settings.HIDDEN_DEVICES:
        return False
    if _hides_every_gpu(environ.get(VISIBLE_VAR)):
        return False
    return _gpu_device_files() if device_files is None else device_files


def configure_from_env(environ: Mapping[str, str] | None = None) -> None:
    """Apply the hub's GPU settings at kernel start-up (memory growth on by default, optional MB cap).

    Never raises. Memory growth goes through TensorFlow's own TF_FORCE_GPU_ALLOW_GROWTH switch, so
    TensorFlow is only imported when a memory limit is asked for and the machine has a GPU.
    """
    try:
        settings = settings_from_env(environ)
        for note in settings.warnings:
            _warn(note)
        if settings.memory_growth:
            os.environ.setdefault(TF_GROWTH_VAR, "true")
        if settings.memory_limit_mb is not None and _gpu_device_files():
            limit_gpu_memory(settings.memory_limit_mb)
    except Exception as exc:  # start-up code must never stop a kernel
        _warn(f"GPU settings not applied: {type(exc).__name__}: {exc}".splitlines()[0])


# --- the classic benchmark ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvBenchmark:
    """Seconds for ``repeats`` convolutions of 32 7x7x3 filters over ``images`` random images, CPU vs GPU."""

    cpu_seconds: float
    gpu_seconds: float | None
    speedup: float | None
    images: int
    repeats: int
    size: int = 100

    def __str__(self) -> str:
        lines = [
            f"Convolving 32 filters of 7x7x3 over {self.images} random {self.size}x{self.size}x3 images, "
            f"sum of {self.repeats} runs:",
            f"  CPU (s): {self.cpu_seconds:.3f}",
            f"  GPU (s): {self.gpu_seconds:.3f}" if self.gpu_seconds is not None else "  GPU (s): no GPU available",
        ]
        if self.speedup is not None:
            lines.append(f"  GPU speedup over CPU: {self.speedup:.0f}x")
        lines.append(
            f"  (the classic tutorial, 100 images of 100x100, 10 runs: CPU {CLASSIC_CPU_SECONDS} s, "
            f"GPU {CLASSIC_GPU_SECONDS} s, {CLASSIC_SPEEDUP:.0f}x speedup)"
        )
        return "\n".join(lines)


def _time_conv(device: str, repeats: int, images: int, size: int) -> float:
    import tensorflow as tf

    with tf.device(device):
        batch = tf.random.normal((images, size, size, 3), seed=1)
        filters = tf.random.normal((7, 7, 3, 32), seed=2)

        def run() -> None:
            # reduce_sum(...).numpy() waits for the result, so asynchronous GPU work is timed in full
            tf.math.reduce_sum(tf.nn.conv2d(batch, filters, strides=1, padding="VALID")).numpy()

        run()  # warm-up: kernel selection and memory allocation are not timed
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        return time.perf_counter() - start


def _positive(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def conv_benchmark(repeats: int = 10, images: int = 100, size: int = 100) -> ConvBenchmark:
    """The classic CPU-vs-GPU measurement: time ``repeats`` convolutions on /cpu:0 and on /gpu:0 if present."""
    repeats = _positive(repeats, "repeats")
    images = _positive(images, "images")
    size = _positive(size, "size (the filters are 7x7)", minimum=7)
    import tensorflow as tf

    cpu = _time_conv("/cpu:0", repeats, images, size)
    gpu = _time_conv("/gpu:0", repeats, images, size) if tf.config.list_logical_devices("GPU") else None
    speedup = cpu / gpu if gpu else None
    return ConvBenchmark(cpu_seconds=cpu, gpu_seconds=gpu, speedup=speedup, images=images, repeats=repeats, size=size)


# --- the device report of chapter 00 ----------------------------------------------------------------------


def device_summary(gpus: Sequence[GpuInfo] | None = None) -> str:
    """TensorFlow version, devices, GPUs with memory and, last, the device line, as a few lines (never raises)."""
    try:
        import tensorflow as tf
    except Exception as exc:
        return f"TensorFlow: not importable ({type(exc).__name__}: {exc})".splitlines()[0]
    lines = []
    try:
        cuda = "yes" if tf.test.is_built_with_cuda() else "no"
        lines.append(f"TensorFlow {tf.__version__} (built with CUDA: {cuda})")
        devices = [d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices()]
        lines.append(f"Devices: {', '.join(devices) or 'none'}")
        found = gpu_info() if gpus is None else list(gpus)
    except Exception as exc:
        lines.append(f"Devices: could not list them ({type(exc).__name__}: {exc})".splitlines()[0])
        found = [] if gpus is None else list(gpus)
    if found:
        lines.extend(str(gpu) for gpu in found)
    else:
        visible = os.environ.get(VISIBLE_VAR)
        shown = f" ({VISIBLE_VAR}={visible!r})" if visible is not None else ""
        lines.append("GPUs: none visible to TensorFlow" + shown)
    settings = settings_from_env()
    limit = f"{settings.memory_limit_mb} MB" if settings.memory_limit_mb else "none"
    lines.append(f"GPU settings: memory growth {'on' if settings.memory_growth else 'off'}, memory limit {limit}")
    lines.append("This kernel: " + device_line(None if gpus is None else DeviceState(gpus=tuple(found))))
    return "\n".join(lines)


# --- what this kernel will use, in one line (every chapter's device line) ----------------------------------


@dataclass(frozen=True)
class DeviceState:
    """What `device_line` describes; `device_state()` fills it from TensorFlow (tests fill it by hand).

    ``memory_limit_mb`` is the cap TensorFlow has on GPU 0 (a logical device configuration), ``device_files``
    whether /dev has a GPU (None: look), ``tensorflow_error`` why TensorFlow cannot be imported, ``error``
    why it could not list its GPUs.
    """

    gpus: tuple[GpuInfo, ...] = ()
    built_with_cuda: bool | None = None
    memory_growth: bool | None = None
    memory_limit_mb: int | None = None
    device_files: bool | None = None
    tensorflow_error: str | None = None
    error: str | None = None


def _one_line(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0]


def device_state() -> DeviceState:
    """TensorFlow's GPUs (with NVML names and memory), its CUDA build and GPU 0's memory settings; never raises."""
    try:
        import tensorflow as tf
    except Exception as exc:
        return DeviceState(tensorflow_error=_one_line(exc))
    try:
        built: bool | None = bool(tf.test.is_built_with_cuda())
    except Exception:
        built = None
    try:
        devices = _tf_gpus()
        gpus = tuple(gpu_info(devices))
    except Exception as exc:
        return DeviceState(built_with_cuda=built, error=_one_line(exc))
    growth = limit = None
    if devices:
        try:
            growth = bool(tf.config.experimental.get_memory_growth(devices[0]))
        except Exception:
            pass
        try:
            configs = tf.config.get_logical_device_configuration(devices[0]) or []
            limit = int(configs[0].memory_limit) if configs and configs[0].memory_limit else None
        except Exception:
            pass
    return DeviceState(gpus=gpus, built_with_cuda=built, memory_growth=growth, memory_limit_mb=limit)


def _policy(environ: Mapping[str, str]) -> str | None:
    """The hub's GPU policy for this server, or None outside the hub (unset or not a policy)."""
    if not (environ.get(POLICY_VAR) or "").strip():
        return None
    try:
        return settings.GPU_POLICY.read(environ)
    except settings.SettingError:
        return None


def _gpu_text(gpu: GpuInfo) -> str:
    if gpu.memory_total_mb is None:
        return f"GPU {gpu.index} ({gpu.name})"
    size = f"{round(gpu.memory_total_mb / 1024)} GiB" if gpu.memory_total_mb >= 1024 else f"{gpu.memory_total_mb} MiB"
    return f"GPU {gpu.index} ({gpu.name}, {size})"


_SHARING = {
    "shared": "shared with the class",
    "spread": "assigned to you (spread policy: other students may use it too)",
    "exclusive": "yours alone (exclusive policy)",
}


def _memory_text(state: DeviceState, environ: Mapping[str, str]) -> str:
    growth = bool(state.memory_growth) or (environ.get(TF_GROWTH_VAR) or "").strip().lower() == "true"
    limit = state.memory_limit_mb
    if limit is not None:
        hub_cap = settings_from_env(environ).memory_limit_mb
        cap = f"capped at {limit:,} MB" + (" per student" if limit == hub_cap else "")
        return f"memory grows as needed, {cap}" if growth else cap
    if growth:
        return "memory grows as needed"
    return "TensorFlow takes nearly all of its memory at first use (gpu.enable_memory_growth() first shares it)"


def _hidden_by_the_hub(policy: str) -> str:
    if policy == "none":
        return "the course hub gives students no GPU (GPU policy: none)"
    return f"no GPU was assigned to this server ({policy} policy)"


def _cpu_reason(state: DeviceState, environ: Mapping[str, str], policy: str | None) -> str:
    visible = environ.get(VISIBLE_VAR)
    if state.built_with_cuda is False:
        return "TensorFlow was built without CUDA (on a GPU machine: pip install 'tensorflow[and-cuda]')"
    notice = (environ.get(NOTICE_VAR) or "").strip()
    if notice:
        return f"no GPU was assigned to you ({policy} policy). {notice}" if policy else \
            f"no GPU was assigned to you. {notice}"
    if (environ.get(NVIDIA_VAR) or "").strip() == settings.HIDDEN_DEVICES:
        if policy:
            return _hidden_by_the_hub(policy)
        return f"this server was started without GPUs ({NVIDIA_VAR}={settings.HIDDEN_DEVICES})"
    device_files = _gpu_device_files() if state.device_files is None else state.device_files
    if not device_files:
        return "this machine has no GPU"
    if _hides_every_gpu(visible):
        if policy:
            return _hidden_by_the_hub(policy)
        if visible.strip() == "-1":
            return f"{VISIBLE_VAR}=-1 hides every GPU (unset it and restart the kernel)"
        return f"{VISIBLE_VAR} is empty, which hides every GPU (unset it and restart the kernel)"
    said = f"; TensorFlow said: {state.error}" if state.error else ""
    shown = f" with {VISIBLE_VAR}={visible.strip()!r}" if visible is not None else ""
    return (f"this machine has a GPU but TensorFlow cannot use it{shown} (driver or CUDA libraries{said}); "
            "gpu.require_gpu() says what to check")


def device_line(state: DeviceState | None = None, environ: Mapping[str, str] | None = None) -> str:
    """One line, in words: the GPU this kernel will use and how its memory is shared, or why it runs on the CPU.

    For example "GPU 0 (NVIDIA H200, 140 GiB) — shared with the class: memory grows as needed, capped at
    8,000 MB per student", "CPU only: this machine has no GPU" or "CPU only: no GPU was assigned to you
    (exclusive policy). All 2 GPUs are in use ...". Reads the hub's COURSE_GPU_POLICY and COURSE_GPU_NOTICE,
    CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES, /dev, and what TensorFlow sees. Never raises.
    """
    environ = os.environ if environ is None else environ
    try:
        state = device_state() if state is None else state
        if state.tensorflow_error:
            return f"no device: TensorFlow cannot be imported ({state.tensorflow_error}); run `course doctor`"
        policy = _policy(environ)
        if not state.gpus:
            return "CPU only: " + _cpu_reason(state, environ, policy)
        names = ", ".join(_gpu_text(gpu) for gpu in state.gpus)
        how = [part for part in (_SHARING.get(policy or ""), _memory_text(state, environ)) if part]
        return f"{names} — " + ": ".join(how)
    except Exception as exc:  # a device line must never stop a chapter
        return f"devices unknown ({_one_line(exc)})"
