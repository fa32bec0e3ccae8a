"""Credentials and identity: passwords, JWTs, API keys and who a request acts as.

Nothing here imports tornado: the transport hands in header values and gets back a
`Principal` or an `errors.Unauthorized`.
"""
