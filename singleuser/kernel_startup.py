"""Kernel start-up file (PYTHONSTARTUP): apply the hub's GPU memory settings without student action.

IPython kernels run this file at start. It does not import TensorFlow (that would cost every kernel
seconds and memory); it waits for the notebook's own `import tensorflow` and then calls
`course.gpu.configure_from_env()`, which reads COURSE_GPU_MEMORY_GROWTH / COURSE_GPU_MEMORY_LIMIT_MB.
Anything missing (no `course.gpu`, no such function) is skipped quietly. Leaves no names behind.
"""


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


if __name__ == "__main__":  # run as a start-up file (IPython executes it as __main__)
    _course_install_gpu_hook()
    del _course_install_gpu_hook
