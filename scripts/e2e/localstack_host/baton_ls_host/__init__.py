"""LocalStack plugins that let the Baton stack run on the host, without Docker.

Adapted from the team's reference recipe; pinned to ``localstack-core==2026.3.0``, whose
internal Lambda executor API these classes implement.
"""
