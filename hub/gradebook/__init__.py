"""The class gradebook: live attempts reported by students' kernels, grades from sandboxed re-runs.

- `questions`: the course's questions as data (course/checks/questions.json; the hub has no NumPy);
- `store`: the gradebook's own SQLite database in the hub's state folder (mode 0600, WAL);
- the service that serves `/services/gradebook/` lives beside them.
"""
