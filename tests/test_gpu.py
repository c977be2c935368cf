"""Tests for course.gpu on this CPU-only machine, with real TensorFlow calls.

A GPU and an NVIDIA driver cannot exist here, so the GPU-present paths get a fake device list (real
``tf.config.PhysicalDevice`` records) and a stand-in for the ``pynvml`` module; nothing else is faked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from course import gpu
from course.gpu import (
    ConvBenchmark,
    DeviceState,
    GpuInfo,
    configure_from_env,
    conv_benchmark,
    device_line,
    device_state,
    device_summary,
    enable_memory_growth,
    gpu_expected,
    gpu_info,
    limit_gpu_memory,
    require_gpu,
    settings_from_env,
)

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("CUDA_VISIBLE_DEVICES", gpu.GROWTH_VAR, gpu.LIMIT_VAR, gpu.TF_GROWTH_VAR, gpu.NVIDIA_VAR,
                 gpu.POLICY_VAR, gpu.NOTICE_VAR):
        monkeypatch.delenv(name, raising=False)


def fake_gpus(count: int) -> list:
    import tensorflow as tf

    return [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}", device_type="GPU") for i in range(count)]


class FakeNvml:
    """Stands in for ``pynvml`` on a machine without an NVIDIA driver: (uuid, name, total, used) per GPU."""

    def __init__(self, gpus, fail_init=False):
        self.gpus, self.fail_init, self.shutdowns = gpus, fail_init, 0

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("NVML Shared Library Not Found")

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index):
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return next(g for g in self.gpus if g[0] == uuid)

    def nvmlDeviceGetName(self, handle):
        return handle[1].encode()  # older pynvml returns bytes

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(total=handle[2], used=handle[3], free=handle[2] - handle[3])


H100 = ("GPU-aaaa", "NVIDIA H100 80GB HBM3", 81559 * MIB, 1024 * MIB)
A100 = ("GPU-bbbb", "NVIDIA A100-SXM4-40GB", 40960 * MIB, 512 * MIB + 5)


# --- this machine: no GPU -----------------------------------------------------------------------------


def test_import_is_fast_and_does_not_load_tensorflow():
    code = "import sys, course.gpu; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_gpu_info_is_empty_without_gpu():
    assert gpu_info() == []


def test_require_gpu_explains_what_to_do(capsys):
    assert require_gpu() is False
    message = capsys.readouterr().out
    assert message.startswith("TensorFlow sees no GPU")
    for advice in ("nvidia-smi", "started with GPUs", "CUDA_VISIBLE_DEVICES is unset", "GPU policy",
                   "CPU-only server", "ask your instructor", "still runs on the CPU, only slower"):
        assert advice in message, advice


def test_require_gpu_flags_a_hiding_cuda_visible_devices(monkeypatch, capsys):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert require_gpu() is False
    assert "CUDA_VISIBLE_DEVICES is '-1' -- this hides every GPU" in capsys.readouterr().out


def test_require_gpu_true_and_quiet_with_a_gpu(capsys):
    assert require_gpu(devices=fake_gpus(1)) is True
    assert capsys.readouterr().out == ""


def test_memory_settings_do_nothing_without_gpu(capsys):
    assert enable_memory_growth() == 0
    assert limit_gpu_memory(512) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("bad", [-1, 0, 1.5, "4096", True, None])
def test_limit_gpu_memory_rejects_bad_megabytes(bad):
    message = r"megabytes must be a whole number of MB above 0, e\.g\. limit_gpu_memory\(4096\)"
    with pytest.raises(ValueError, match=message):
        limit_gpu_memory(bad)


def test_limit_gpu_memory_respects_the_hub_cap(monkeypatch, capsys):
    monkeypatch.setenv(gpu.LIMIT_VAR, "2048")
    assert limit_gpu_memory(8192) == 0  # no GPU here, but the cap is still announced
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"course.gpu: 8192 MB is above this server's GPU memory cap; using 2048 MB ({gpu.LIMIT_VAR})."]


# --- the hub's environment variables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "growth", "limit", "warned"),
    [
        ({}, True, None, []),
        ({gpu.GROWTH_VAR: "0"}, False, None, []),
        ({gpu.GROWTH_VAR: "yes", gpu.LIMIT_VAR: " 4096 "}, True, 4096, []),
        ({gpu.GROWTH_VAR: "maybe"}, True, None, [gpu.GROWTH_VAR]),
        ({gpu.LIMIT_VAR: "4GB"}, True, None, [gpu.LIMIT_VAR]),
        ({gpu.LIMIT_VAR: "-5", gpu.GROWTH_VAR: "2"}, True, None, [gpu.GROWTH_VAR, gpu.LIMIT_VAR]),
    ],
)
def test_settings_from_env(environ, growth, limit, warned):
    settings = settings_from_env(environ)
    assert (settings.memory_growth, settings.memory_limit_mb) == (growth, limit)
    assert [w.split("=")[0] for w in settings.warnings] == warned


def test_configure_from_env_turns_on_growth_and_warns_once_per_bad_value(capsys):
    import os

    configure_from_env({gpu.LIMIT_VAR: "lots"})
    assert os.environ[gpu.TF_GROWTH_VAR] == "true"
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"course.gpu: {gpu.LIMIT_VAR}='lots' is not allowed: use a whole number")


def test_configure_from_env_growth_off_and_valid_limit_is_silent(capsys):
    import os

    assert configure_from_env({gpu.GROWTH_VAR: "0", gpu.LIMIT_VAR: "1024"}) is None
    assert gpu.TF_GROWTH_VAR not in os.environ
    assert capsys.readouterr() == ("", "")


def test_enable_memory_growth_counts_gpus_when_tensorflow_grows_memory(monkeypatch):
    monkeypatch.setenv(gpu.TF_GROWTH_VAR, "true")
    assert enable_memory_growth(devices=fake_gpus(2)) == 2


# --- the benchmark ------------------------------------------------------------------------------------


def test_conv_benchmark_on_cpu():
    result = conv_benchmark(repeats=2, images=4, size=16)
    assert isinstance(result, ConvBenchmark)
    assert result.cpu_seconds > 0
    assert result.gpu_seconds is None and result.speedup is None
    assert (result.images, result.repeats, result.size) == (4, 2, 16)
    text = str(result)
    assert "over 4 random 16x16x3 images, sum of 2 runs" in text
    assert "GPU (s): no GPU available" in text
    assert "the classic tutorial, 100 images of 100x100, 10 runs: CPU 8.228 s, GPU 0.183 s, 45x speedup" in text


def test_the_classic_speedup_is_derived_from_the_two_times_it_printed():
    assert gpu.CLASSIC_SPEEDUP == gpu.CLASSIC_CPU_SECONDS / gpu.CLASSIC_GPU_SECONDS
    assert (gpu.CLASSIC_CPU_SECONDS, gpu.CLASSIC_GPU_SECONDS) == (8.228, 0.183)


def test_conv_benchmark_report_with_gpu_numbers():
    text = str(ConvBenchmark(cpu_seconds=8.8, gpu_seconds=0.2, speedup=44.0, images=100, repeats=10))
    assert "CPU (s): 8.800" in text and "GPU (s): 0.200" in text and "GPU speedup over CPU: 44x" in text


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repeats": 0}, "repeats must be a whole number >= 1"),
    ({"images": 2.5}, "images must be a whole number >= 1"),
    ({"size": 5}, r"size \(the filters are 7x7\) must be a whole number >= 7"),
])
def test_conv_benchmark_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conv_benchmark(**kwargs)


# --- GPU-present paths with a fake device list --------------------------------------------------------


def test_gpu_info_reads_names_and_memory_from_nvml():
    nvml = FakeNvml([H100, A100])
    infos = gpu_info(devices=fake_gpus(2), nvml=nvml)
    assert infos == [
        GpuInfo(index=0, name="NVIDIA H100 80GB HBM3", memory_total_mb=81559, memory_used_mb=1024),
        GpuInfo(index=1, name="NVIDIA A100-SXM4-40GB", memory_total_mb=40960, memory_used_mb=512),
    ]
    assert nvml.shutdowns == 1


def test_nvml_follows_cuda_visible_devices():
    nvml = FakeNvml([H100, A100])
    assert gpu._nvml_memory(1, nvml, {"CUDA_VISIBLE_DEVICES": "1"}) == [("NVIDIA A100-SXM4-40GB", 40960, 512)]
    assert gpu._nvml_memory(2, nvml, {"CUDA_VISIBLE_DEVICES": "GPU-bbbb,GPU-aaaa"}) == [
        ("NVIDIA A100-SXM4-40GB", 40960, 512), ("NVIDIA H100 80GB HBM3", 81559, 1024)]
    assert gpu._nvml_memory(2, nvml, {"CUDA_VISIBLE_DEVICES": "0"})[1] == (None, None, None)


def test_gpu_info_without_nvml_memory_is_unknown():
    infos = gpu_info(devices=fake_gpus(1), nvml=FakeNvml([H100], fail_init=True))
    assert infos == [GpuInfo(index=0, name="/physical_device:GPU:0")]
    # the real pynvml (or its absence) on this driverless machine gives the same answer
    assert gpu_info(devices=fake_gpus(1)) == infos


def test_gpu_info_text():
    assert str(GpuInfo(0, "NVIDIA H100", 81559, 1024)) == "GPU 0: NVIDIA H100, 1024 / 81559 MiB used"
    assert str(GpuInfo(1, "NVIDIA H100")) == "GPU 1: NVIDIA H100, memory unknown (install nvidia-ml-py to see it)"


def test_device_summary_lists_gpus_and_settings(monkeypatch):
    monkeypatch.setenv(gpu.LIMIT_VAR, "4096")
    monkeypatch.setenv(gpu.TF_GROWTH_VAR, "true")  # as in a kernel the course started
    lines = device_summary(gpus=[GpuInfo(0, "NVIDIA H100 80GB HBM3", 81559, 1024)]).splitlines()
    assert lines[0].startswith("TensorFlow 2.") and "built with CUDA:" in lines[0]
    assert lines[1].startswith("Devices: CPU:0")
    assert lines[2] == "GPU 0: NVIDIA H100 80GB HBM3, 1024 / 81559 MiB used"
    assert lines[3] == "GPU settings: memory growth on, memory limit 4096 MB"
    assert lines[4] == "This kernel: GPU 0 (NVIDIA H100 80GB HBM3, 80 GiB) — memory grows as needed"


def test_device_summary_on_this_machine():
    text = device_summary()
    import tensorflow as tf

    assert f"TensorFlow {tf.__version__}" in text
    assert "GPUs: none visible to TensorFlow" in text
    assert text.splitlines()[-1] == "This kernel: CPU only: this machine has no GPU"


# --- the device line: what this kernel will use, and why ------------------------------------------------------

H200 = GpuInfo(0, "NVIDIA H200", 143771, 0)
EXHAUSTED = ("All 2 GPUs are in use by other students, so this server runs on CPU only. "
             "To try again later: File > Hub Control Panel > Stop My Server, then start it.")
NO_GPU = DeviceState(built_with_cuda=True, device_files=False)  # a CPU-only machine
HIDDEN = DeviceState(built_with_cuda=True, device_files=True)  # a GPU machine whose GPUs this kernel cannot see


@pytest.mark.parametrize(("state", "environ", "line"), [
    # a GPU: which, how it is shared, and its memory
    (DeviceState(gpus=(H200,), memory_limit_mb=8000),
     {"COURSE_GPU_POLICY": "shared", "TF_FORCE_GPU_ALLOW_GROWTH": "true", "COURSE_GPU_MEMORY_LIMIT_MB": "8000"},
     "GPU 0 (NVIDIA H200, 140 GiB) — shared with the class: memory grows as needed, capped at 8,000 MB per student"),
    (DeviceState(gpus=(H200,), memory_growth=True), {"COURSE_GPU_POLICY": "spread"},
     "GPU 0 (NVIDIA H200, 140 GiB) — assigned to you (spread policy: other students may use it too): "
     "memory grows as needed"),
    (DeviceState(gpus=(H200,)), {"COURSE_GPU_POLICY": "exclusive", "TF_FORCE_GPU_ALLOW_GROWTH": "true"},
     "GPU 0 (NVIDIA H200, 140 GiB) — yours alone (exclusive policy): memory grows as needed"),
    (DeviceState(gpus=(H200,), memory_limit_mb=2048), {"COURSE_GPU_MEMORY_LIMIT_MB": "8000"},
     "GPU 0 (NVIDIA H200, 140 GiB) — capped at 2,048 MB"),  # the student's own cap, no memory growth
    (DeviceState(gpus=(H200,)), {},
     "GPU 0 (NVIDIA H200, 140 GiB) — TensorFlow takes nearly all of its memory at first use "
     "(gpu.enable_memory_growth() first shares it)"),
    (DeviceState(gpus=(GpuInfo(0, "/physical_device:GPU:0"), GpuInfo(1, "Tiny", 512, 0)), memory_growth=True),
     {"COURSE_GPU_POLICY": "bogus"},
     "GPU 0 (/physical_device:GPU:0), GPU 1 (Tiny, 512 MiB) — memory grows as needed"),
    # CPU only, and why
    (DeviceState(built_with_cuda=False, device_files=True), {},
     "CPU only: TensorFlow was built without CUDA (on a GPU machine: pip install 'tensorflow[and-cuda]')"),
    (HIDDEN, {"COURSE_GPU_POLICY": "exclusive", "COURSE_GPU_NOTICE": EXHAUSTED, "CUDA_VISIBLE_DEVICES": "",
              "NVIDIA_VISIBLE_DEVICES": "void"},
     f"CPU only: no GPU was assigned to you (exclusive policy). {EXHAUSTED}"),
    (NO_GPU, {"COURSE_GPU_NOTICE": EXHAUSTED}, f"CPU only: no GPU was assigned to you. {EXHAUSTED}"),
    (NO_GPU, {"COURSE_GPU_POLICY": "none", "NVIDIA_VISIBLE_DEVICES": "void"},
     "CPU only: the course hub gives students no GPU (GPU policy: none)"),
    (NO_GPU, {"COURSE_GPU_POLICY": "spread", "NVIDIA_VISIBLE_DEVICES": "void"},
     "CPU only: no GPU was assigned to this server (spread policy)"),
    (NO_GPU, {"NVIDIA_VISIBLE_DEVICES": "void"},
     "CPU only: this server was started without GPUs (NVIDIA_VISIBLE_DEVICES=void)"),
    (NO_GPU, {}, "CPU only: this machine has no GPU"),
    (NO_GPU, {"COURSE_GPU_POLICY": "none", "CUDA_VISIBLE_DEVICES": ""}, "CPU only: this machine has no GPU"),
    (HIDDEN, {"CUDA_VISIBLE_DEVICES": ""},
     "CPU only: CUDA_VISIBLE_DEVICES is empty, which hides every GPU (unset it and restart the kernel)"),
    (HIDDEN, {"CUDA_VISIBLE_DEVICES": " -1 "},
     "CPU only: CUDA_VISIBLE_DEVICES=-1 hides every GPU (unset it and restart the kernel)"),
    (HIDDEN, {"COURSE_GPU_POLICY": "none", "CUDA_VISIBLE_DEVICES": ""},
     "CPU only: the course hub gives students no GPU (GPU policy: none)"),
    (HIDDEN, {}, "CPU only: this machine has a GPU but TensorFlow cannot use it (driver or CUDA libraries); "
                 "gpu.require_gpu() says what to check"),
    (DeviceState(device_files=True, error="InternalError: cuInit failed"), {"CUDA_VISIBLE_DEVICES": "7"},
     "CPU only: this machine has a GPU but TensorFlow cannot use it with CUDA_VISIBLE_DEVICES='7' (driver or CUDA "
     "libraries; TensorFlow said: InternalError: cuInit failed); gpu.require_gpu() says what to check"),
    (DeviceState(tensorflow_error="ModuleNotFoundError: No module named 'tensorflow'"), {},
     "no device: TensorFlow cannot be imported (ModuleNotFoundError: No module named 'tensorflow'); "
     "run `course doctor`"),
])
def test_device_line_says_what_is_used_and_why(state, environ, line):
    assert device_line(state, environ) == line


def test_device_line_never_raises():
    broken = DeviceState(gpus=(SimpleNamespace(index=0, name="x", memory_total_mb="lots"),))
    assert device_line(broken, {}).startswith("devices unknown (TypeError: ")


def test_device_line_on_this_machine(monkeypatch):
    state = device_state()
    assert state.gpus == () and state.built_with_cuda is True and state.error is None
    assert device_line() == "CPU only: this machine has no GPU"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no device here, so that is the reason, not the variable
    assert device_line() == "CPU only: this machine has no GPU"


def test_device_state_reads_gpu_0s_memory_settings(monkeypatch):
    import tensorflow as tf

    devices = fake_gpus(1)
    monkeypatch.setattr(gpu, "_tf_gpus", lambda: devices)
    monkeypatch.setattr(tf.config.experimental, "get_memory_growth", lambda device: True)
    monkeypatch.setattr(tf.config, "get_logical_device_configuration",
                        lambda device: [tf.config.LogicalDeviceConfiguration(memory_limit=4096)])
    state = device_state()
    assert (state.memory_growth, state.memory_limit_mb) == (True, 4096)
    assert state.gpus == (GpuInfo(index=0, name="/physical_device:GPU:0"),)


@pytest.mark.parametrize(("environ", "files", "expected"), [
    ({}, True, True),
    ({}, False, False),
    ({"CUDA_VISIBLE_DEVICES": ""}, True, False),
    ({"CUDA_VISIBLE_DEVICES": "-1"}, True, False),
    ({"CUDA_VISIBLE_DEVICES": "0"}, True, True),
    ({"NVIDIA_VISIBLE_DEVICES": "void"}, True, False),
])
def test_gpu_expected(environ, files, expected):
    assert gpu_expected(environ, device_files=files) is expected


def test_gpu_expected_on_this_machine():
    assert gpu_expected() is False  # no /dev/nvidia* here


def test_course_doctor_reports_the_device_line(monkeypatch):
    from course import doctor

    finding = doctor._devices()
    assert (finding.ok, finding.required) == (False, False)
    assert finding.line().split(None, 2)[1:] == ["Devices", "CPU only: this machine has no GPU (every chapter runs, "
                                                            "only slower)"]
    monkeypatch.setattr(gpu, "device_state", lambda: DeviceState(gpus=(H200,), memory_growth=True))
    monkeypatch.setenv(gpu.POLICY_VAR, "exclusive")
    assert doctor._devices().line() == ("[ok  ] Devices              GPU 0 (NVIDIA H200, 140 GiB) — yours alone "
                                        "(exclusive policy): memory grows as needed")
