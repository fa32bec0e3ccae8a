import pytest


@pytest.fixture
def jp_server_config(axon_server_config):
    return axon_server_config
