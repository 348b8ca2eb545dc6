"""HTTP service (``archgen.api``).

Empty until the service issue lands: the package exists so that the
``archgen.api`` import namespace is mapped from ``api/``.
"""
