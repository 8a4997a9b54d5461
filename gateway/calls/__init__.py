"""Call orchestration over the telephony port: three-way calls, transfer to 12345, duty checks.

The API process records a request and publishes a command; the `linkgate ami` process,
which holds the AMI link, consumes it and drives the PBX (see docs/calls.md).
"""
