"""Kubernetes mode's spawner: KubeSpawner with the course's GPU policy applied to the chart's profiles.

On Kubernetes the NVIDIA device plugin, not the hub, hands out GPUs: a pod asks for them as extended
resources (`extra_resource_limits` in a profile's `kubespawner_override`) and gets exactly those. What the
hub decides is which GPU profiles students see, by the kind of GPU each one asks for:

- `nvidia.com/gpu`: whole GPUs (the device plugin without sharing gives each one to one pod);
- `nvidia.com/gpu.shared`: a time-sliced share (the device plugin's `sharing.timeSlicing` with
  `renameByDefault: true`; it hands each new share out on the node's least-used GPU);
- `nvidia.com/mig-<profile>`: a MIG slice (the device plugin's `mixed` MIG strategy), isolated in hardware.

| policy | GPU kinds offered |
| --- | --- |
| none | none: the GPU profiles are hidden |
| shared, spread | time-sliced shares and MIG slices: several students per GPU |
| exclusive | whole GPUs and MIG slices: one student per device |

Every kernel gets the GPU settings of the other modes (`hub.gpu_policy.gpu_environment`): memory growth
and the per-student memory cap with a GPU; `NVIDIA_VISIBLE_DEVICES=void` without one, because the CUDA
image's default (`all`) would otherwise show a GPU node's devices to a CPU-only pod.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from kubespawner import KubeSpawner
from traitlets import Integer, Unicode

from course import settings as registry
from hub.gpu_policy import GPU_VARIABLES, GpuAssignment, gpu_environment

WHOLE_GPU = "nvidia.com/gpu"
SHARED_GPU = "nvidia.com/gpu.shared"
MIG_PREFIX = "nvidia.com/mig-"
POLICY_KINDS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "shared": frozenset({"shared", "mig"}),
    "spread": frozenset({"shared", "mig"}),
    "exclusive": frozenset({"whole", "mig"}),
}


class ProfileError(ValueError):
    """The profiles cannot work under the GPU policy; the message is one line for the instructor."""


def gpu_kind(resource: str) -> str | None:
    """`whole`, `shared` or `mig` for an NVIDIA extended resource name; None for anything else."""
    if resource == WHOLE_GPU:
        return "whole"
    if resource == SHARED_GPU:
        return "shared"
    if resource.startswith(MIG_PREFIX):
        return "mig"
    if resource.startswith("nvidia.com/"):
        raise ProfileError(f"{resource} is not a GPU resource the course knows: use {WHOLE_GPU}, {SHARED_GPU} "
                           f"or {MIG_PREFIX}<profile> (deploy/kubernetes/README.md)")
    return None


def requested_gpus(limits: Mapping[str, Any] | None) -> dict[str, int]:
    """The GPU resources in `limits` (extra_resource_limits) that ask for at least one device."""
    found = {}
    for resource, amount in (limits or {}).items():
        if gpu_kind(resource) is not None and int(amount) > 0:
            found[resource] = int(amount)
    return found


def _allowed(override: Mapping[str, Any] | None, kinds: frozenset[str]) -> bool:
    return all(gpu_kind(r) in kinds for r in requested_gpus((override or {}).get("extra_resource_limits")))


def profiles_for_policy(profiles: Iterable[Mapping[str, Any]], policy: str) -> tuple[list[dict], list[str]]:
    """The profiles (and profile-option choices) whose GPU requests `policy` allows, and what was hidden.

    A profile whose options lose every choice is hidden too. Raises ProfileError when nothing is left.
    """
    kinds = POLICY_KINDS[policy]
    kept: list[dict] = []
    hidden: list[str] = []
    for original in profiles:
        profile = copy.deepcopy(dict(original))
        name = profile.get("slug") or profile.get("display_name", "?")
        if not _allowed(profile.get("kubespawner_override"), kinds):
            hidden.append(name)
            continue
        emptied = False
        dropped: list[str] = []
        for option_name, option in profile.get("profile_options", {}).items():
            choices = option.get("choices") or {}
            allowed = {key: choice for key, choice in choices.items()
                       if _allowed(choice.get("kubespawner_override"), kinds)}
            dropped += [f"{name}/{option_name}={key}" for key in choices if key not in allowed]
            emptied = emptied or bool(choices and not allowed)
            option["choices"] = allowed
        if emptied:
            hidden.append(name)
            continue
        hidden += dropped
        kept.append(profile)
    if not kept and hidden:
        raise ProfileError(f"{registry.GPU_POLICY.name}={policy} leaves no profile in singleuser.profileList "
                           f"(hidden: {', '.join(hidden)}): add a profile without GPUs, or change the policy")
    return kept, hidden


def pod_gpu_environment(limits: Mapping[str, Any] | None, policy: str,
                        memory_limit_mb: int | None) -> dict[str, str]:
    """The GPU variables for a pod with these extra resource limits, as the other modes set them.

    With a GPU the device plugin sets NVIDIA_VISIBLE_DEVICES to the devices it gave; the pod must not
    override it (a pod that says `all` would see every GPU of its node).
    """
    if requested_gpus(limits):
        env = gpu_environment(GpuAssignment(policy, all_gpus=True), memory_limit_mb)
        env.pop(registry.NVIDIA_VISIBLE_DEVICES.name, None)
        return env
    return gpu_environment(GpuAssignment(policy), memory_limit_mb)


class CourseKubeSpawner(KubeSpawner):
    """KubeSpawner whose pods get the course's GPU variables for what their profile asks for."""

    gpu_policy = Unicode("none", help="COURSE_GPU_POLICY, for the GPU variables of each pod").tag(config=True)
    gpu_memory_limit_mb = Integer(None, allow_none=True,
                                  help="COURSE_GPU_MEMORY_LIMIT_MB: the cap in every kernel with a GPU"
                                  ).tag(config=True)

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        for name in GPU_VARIABLES:
            env.pop(name, None)
        env.update(pod_gpu_environment(self.extra_resource_limits, self.gpu_policy, self.gpu_memory_limit_mb))
        return env
