"""TokenSigner: claims, typ separation, and that its verification cache never outlives a token."""

import time

import pytest

from axon_jupyter.auth.tokens import TokenSigner
from axon_jupyter.errors import Unauthorized


def test_cached_verification_still_expires():
    signer = TokenSigner("s" * 40, access_ttl=1)
    token, issued = signer.issue_access("user_1")
    assert signer.decode(token, "access") == issued  # verified and now cached
    time.sleep(max(0.0, issued.exp - time.time()) + 0.05)
    with pytest.raises(Unauthorized) as info:
        signer.decode(token, "access")
    assert info.value.details["reason"] == "token_expired"


def test_typ_is_checked_on_cached_tokens_too():
    signer = TokenSigner("s" * 40)
    refresh, _ = signer.issue_refresh("user_1", "fam")
    assert signer.decode(refresh, "refresh").fam == "fam"
    with pytest.raises(Unauthorized) as info:
        signer.decode(refresh, "access")
    assert info.value.details["reason"] == "wrong_token_type"


def test_short_secrets_are_refused():
    with pytest.raises(ValueError):
        TokenSigner("too-short")
