"""A stock JupyterHub for `benchmarks/hub_load.py --baseline`: the peer the course hub's spawn cost is measured
against.

The same JupyterHub (5.5.4), JupyterLab and installed server extensions as the course hub (it runs from the
same environment), but nothing of the course's own: `DummyAuthenticator` with one shared password,
`SimpleLocalProcessSpawner` (every server a local process as the hub's own user, in a home folder of its own),
the stock `jupyterhub-singleuser` command (no content sync, no JUPYTER_CONFIG_PATH: no TensorBoard entry, no
lab settings, no kernel start-up file), configurable-http-proxy from the repository's node_modules, its state
in a temporary folder. Run as `jupyterhub -f benchmarks/stock_hub_config.py` with

    STOCK_HUB_STATE     the state folder (database, cookie secret, pid files; homes/ under it)
    STOCK_HUB_PORT      p: the proxy listens on p, its API on p+1, the hub on p+2
    STOCK_HUB_PASSWORD  the one password every user logs in with
    STOCK_HUB_TOKEN     an API token for the benchmark's own clean-up (a service with admin:servers)
    STOCK_HUB_WITHOUT_IRI  1: servers skip jsonschema's optional IRI checker, as the course's do (a
                        like-for-like peer that shows only what the course adds; default 0, plain stock)

Only two settings differ from JupyterHub's defaults beyond where things are: the spawn timeouts are the
course hub's (300 s to start, 240 s for the server to answer; the defaults, 60 s and 30 s, fail a whole class
on two cores before anything is measured), and a server running as root needs `--allow-root` (the hub runs
as root here so that the course hub can create its system users; stock servers stay the hub's own user).
"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = Path(os.environ["STOCK_HUB_STATE"])
PORT = int(os.environ["STOCK_HUB_PORT"])
BINDIR = Path(sys.executable).parent

c = get_config()  # noqa: F821  (provided by JupyterHub)

c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 2
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
_proxy = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
if _proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(_proxy)]

c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.DummyAuthenticator.password = os.environ["STOCK_HUB_PASSWORD"]

c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "homes" / "{username}")
c.Spawner.cmd = [str(BINDIR / "jupyterhub-singleuser")]
c.Spawner.environment = {"PATH": os.pathsep.join([str(BINDIR), "/usr/local/bin", "/usr/bin", "/bin"]),
                         "LANG": os.environ.get("LANG") or "C.UTF-8"}
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 240

c.JupyterHub.services = [{"name": "benchmark", "api_token": os.environ["STOCK_HUB_TOKEN"]}]
c.JupyterHub.load_roles = [{"name": "benchmark", "scopes": ["list:users", "read:users", "admin:servers"],
                            "services": ["benchmark"]}]

if os.environ.get("STOCK_HUB_WITHOUT_IRI") == "1":
    # `hub_load.py --stock-without-iri`: the one start-up cut the course's server command makes
    # (singleuser/server_command.py: jsonschema's optional IRI checker is never imported), nothing else.
    c.Spawner.cmd = [sys.executable, "-c", "import sys; sys.modules['rfc3987_syntax'] = None; "
                     "from jupyterhub.singleuser import main; sys.exit(main())"]
