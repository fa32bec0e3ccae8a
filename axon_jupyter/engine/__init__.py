"""DAG planning, the executor, runners (where node code runs) and the event bus.

Never imports tornado or anything from api/: the engine runs the same inside a Jupyter
server, an embedded kernel server, a benchmark or a test.
"""
