"""Autograding: `course hub grade` re-runs a copy of each student's chapter notebook in a sandbox and
records the grades in the gradebook.

- `notebooks`: which chapters and students; a student's notebook found and read without following the
  student's links; the course's own versions (an untouched copy is "not started"); notebooks that reach
  into the checks;
- `sandbox` and `cgroups`: local mode's sandbox (the student's system user, a memory cgroup, RLIMIT_CPU,
  network/PID/mount namespaces, the wall clock);
- `docker_mode`: Docker mode's throwaway container of the course image;
- `statuses`: a run's status ("graded", "not started", "timed out after 300 s", "out of memory (limit
  3 GiB)", "failed: ...") and the grades it earned;
- `runner`: a class graded in parallel, each run recorded with `hub.gradebook.store.Gradebook`.

The student's side of a run is `singleuser/grade_notebook.py`. `grade(settings, pairs, ...)` is what the
CLI (and the gradebook page's button) calls.
"""
from hub.grading.runner import ClassGrader, Outcome, grade, open_gradebook, pairs_for, table

__all__ = ["ClassGrader", "Outcome", "grade", "open_gradebook", "pairs_for", "table"]
