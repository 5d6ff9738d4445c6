"""How the client verifies TLS for https and plain-http base URLs."""

from __future__ import annotations

import ssl

from devflow_tui.openrouter.client import tls_verification


def test_https_base_url_keeps_httpx_default_verification() -> None:
    assert tls_verification("https://openrouter.ai/api/v1") is True
    assert tls_verification("HTTPS://openrouter.ai/api/v1") is True


def test_plain_http_base_url_gets_a_context_that_trusts_no_certificate() -> None:
    context = tls_verification("http://127.0.0.1:8080/api/v1")
    assert isinstance(context, ssl.SSLContext)
    # Fails closed: verification stays required, with no authority loaded to pass it.
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509"] == 0
