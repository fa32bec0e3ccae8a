"""The rules: validation, ownership, paging. REST and GraphQL call these.

Services take plain values and a `Principal`, return models, and raise `errors.*`.
They never import tornado or anything from api/.
"""
