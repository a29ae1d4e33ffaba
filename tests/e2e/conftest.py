"""pytest fixtures for the hearthd end-to-end tests; see harness.py for the helpers.

Run from the repository root with the system interpreter:

    /usr/bin/python3 -m pytest -q tests/e2e
"""

import pytest

from harness import HearthServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server shared by every test of one module."""
    srv = HearthServer(tmp_path_factory.mktemp("hearthd"))
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


@pytest.fixture
def server_factory(tmp_path_factory):
    """`server_factory(extra_args=())` starts a server with its own data dir for this test."""
    made: list[HearthServer] = []

    def make(extra_args: tuple[str, ...] = (), start: bool = True) -> HearthServer:
        srv = HearthServer(tmp_path_factory.mktemp("hearthd"), extra_args)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in made:
        try:
            srv.close()
        except BaseException as e:  # pytest.fail raises a BaseException (Failed)
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture(autouse=True)
def _no_sanitizer_reports():
    """Attribute a crash or a sanitizer report to the test during which it happened."""
    yield
    for srv in list(HearthServer.live):
        srv.check_log()
        srv.check_alive()


