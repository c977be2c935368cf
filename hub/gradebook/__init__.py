"""The class gradebook: live attempts reported by students' kernels, grades from sandboxed re-runs.

- `questions`: the course's questions as data (course/checks/questions.json; the hub has no NumPy);
- `store`: the gradebook's own SQLite database in the hub's state folder (mode 0600, WAL);
- `report`: the summaries the page shows and the CSV for a learning-management system;
- `grading`: grading runs the page starts (`course hub grade` in the background);
- `service`: the JupyterHub service at `/services/gradebook/` (the page, the CSV, the kernels' reports).
"""
from __future__ import annotations

SERVICE_NAME = "gradebook"
# The scope a token needs to reach the service: students' browsers (the `user` role) and their servers'
# own tokens (Spawner.server_token_scopes) get it; instructors have `access:services` already.
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"


def service_url(host: str, port: int, base_url: str = "/") -> str:
    """The service's own address with its prefix, e.g. http://127.0.0.1:8003/services/gradebook/."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return f"http://{host}:{port}{base}services/{SERVICE_NAME}/"
