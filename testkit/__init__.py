"""Test and benchmark tooling: drive a hub as students and instructors would. Never shipped to students.

- `testkit.hub_client`: a browser-like HTTP client (forms with XSRF, the REST APIs, a kernel's websocket);
- `testkit.temporary_hub`: `python -m hub` in a subprocess with its state in a throw-away folder;
- `testkit.tiers`: the test tiers and what each needs on the machine.
"""
