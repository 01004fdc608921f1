"""Storage core: the domain models, the async engine and sessions, migrations and the queries.

Imports nothing of the other packages.
"""
