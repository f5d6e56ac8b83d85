"""`make bench`: run every benchmark and print its figures."""

from benchmarks import knowledge_search, routing

routing.main()
knowledge_search.main()
