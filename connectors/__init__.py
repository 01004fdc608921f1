"""The outside world: one client per peer (Graph, partner APIs, mail) and the delivery worker.

Imports only ``storage``.
"""
