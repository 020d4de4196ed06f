"""The search's engine room: everything that knows Whoosh (see README.md beside this file).

The forum's side of search (forum.search.backend, indexer, queries, views) talks to
`index.SearchIndex` through the thin WhooshBackend; nothing here imports Flask, SQLAlchemy or the
forum's services, and nothing outside forum.search.backend imports from here (import-linter
checks both).
"""
